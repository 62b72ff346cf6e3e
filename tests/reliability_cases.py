#!/usr/bin/env python3
"""Runs the hostile inputs of issue 17 against the built command line and
prints, for each, the exit status, wall time, peak RSS (GNU time -v) and the
first line of the message, with a verdict.

    tests/reliability_cases.py [BUILD_DIR]        (default: build)

The bar (issue 17): no crash, no raw library message ("[json.exception...",
"std::bad_alloc", "terminate called"), and a refusal within 1 s and 1 GiB. The
second is CPU time (user + system): on a machine the other jobs share, wall
time measures them too; both are printed. A puzzle kernel goes to glslang in a
child process stopped at 3 s of CPU: its macro bomb gets 4 s.
Cases that should work (a data path that is not UTF-8, saved with --save) must
exit 0 and write their checkpoint. The unit tests (test_cli, test_data,
test_image_data, test_model) check the messages; this script measures what they
cannot: time and memory of the real executable. It writes its files in a
temporary folder (about 3 MB; the 1 GiB and 1.6 GB files exist only gzipped)
and exits non-zero when a case misses the bar. It needs GNU time (/usr/bin/time).
"""
import gzip
import os
import re
import struct
import subprocess
import sys
import tempfile
import zlib

RAW_MESSAGES = ("[json.exception", "std::bad_alloc", "terminate called", "what():", "Segmentation fault",
                "AddressSanitizer", "runtime error:")
TIME_LIMIT_S = 1.0
RSS_LIMIT_MB = 1024


def nested(depth):
    return "[" * depth + "]" * depth


def write(path, data):
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())
    return path


def gzip_stream(path, chunk, total):
    """Writes a gzip file of `total` bytes made of `chunk` repeated, without holding them."""
    with gzip.open(path, "wb", compresslevel=9) as f:
        block = chunk * max(1, (1 << 20) // len(chunk))
        written = 0
        while written < total:
            piece = block[: total - written]
            f.write(piece)
            written += len(piece)
    return path


def bmp(width, height, file_size):
    """A BMP of `file_size` bytes whose 40-byte info header says width x height, 24 bits."""
    header = b"BM" + struct.pack("<IHHI", file_size, 0, 0, 54)
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 2835, 2835, 0, 0)
    data = header + info
    return data + b"\0" * (file_size - len(data))


def rewrite_checkpoint(bytes_in, config=None, epoch=None):
    """The checkpoint with another embedded config and/or epoch, lengths and CRC made right.
    Written as format version 1 (64-byte header, no tensor table: it still loads), so a
    config of another length needs no new table offsets."""
    version, header_size = struct.unpack_from("<II", bytes_in, 8)
    model_bytes, config_bytes = struct.unpack_from("<QQ", bytes_in, 16)
    table_bytes = struct.unpack_from("<Q", bytes_in, 64)[0] if version >= 2 else 0
    header = bytearray(bytes_in[:64])
    struct.pack_into("<II", header, 8, 1, 64)
    model = bytes_in[header_size:header_size + model_bytes]
    old_config = bytes_in[header_size + model_bytes:header_size + model_bytes + config_bytes]
    floats = bytes_in[header_size + model_bytes + config_bytes + table_bytes:-4]
    new_config = old_config if config is None else config.encode()
    struct.pack_into("<Q", header, 24, len(new_config))
    if epoch is not None:
        struct.pack_into("<I", header, 44, epoch)
    body = bytes(header) + model + new_config + floats
    return body + struct.pack("<I", zlib.crc32(body) & 0xffffffff)


def onnx_files(f):
    """Hostile ONNX files (made with python3-onnx when it is installed): truncated, an
    initializer whose dims claim 2^62 floats with 4 bytes of data, graphs nested 1 000
    deep through an If's branches, and 100 000 nodes."""
    try:
        import onnx
        from onnx import TensorProto, helper
    except ImportError:
        print("(python3-onnx is missing: the ONNX cases are left out)")
        return []
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])
    weight = helper.make_tensor("w", TensorProto.FLOAT, [2, 3], [0.5] * 6)
    good = helper.make_model(helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "g", [x], [y],
                                               [weight]), opset_imports=[helper.make_opsetid("", 13)])
    good_bytes = good.SerializeToString()
    cases = [("a truncated ONNX model", write(f("truncated.onnx"), good_bytes[: len(good_bytes) // 2]))]
    lying = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[1 << 31, 1 << 31], raw_data=b"\0" * 4)
    huge = helper.make_model(helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "g", [x], [y],
                                               [lying]), opset_imports=[helper.make_opsetid("", 13)])
    cases.append(("ONNX initializer claiming 2^62 floats", write(f("lying.onnx"), huge.SerializeToString())))
    leaf = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "leaf", [], [y])
    branch = leaf
    for _ in range(1000):  # past protobuf's default limit of 100 nested messages
        node = helper.make_node("If", ["c"], ["y"], then_branch=branch, else_branch=leaf)
        branch = helper.make_graph([node], "b", [], [y])
    deep = helper.make_model(branch, opset_imports=[helper.make_opsetid("", 13)])
    cases.append(("ONNX graphs nested 1 000 deep", write(f("deep.onnx"), deep.SerializeToString())))
    nodes = [helper.make_node("Relu", ["x" if i == 0 else f"t{i - 1}"], [f"t{i}"]) for i in range(100000)]
    long = helper.make_model(helper.make_graph(nodes + [helper.make_node("MatMul", ["t99999", "w"], ["y"])], "g",
                                               [x], [y], [weight]), opset_imports=[helper.make_opsetid("", 13)])
    cases.append(("ONNX model of 100 000 nodes", write(f("long.onnx"), long.SerializeToString())))
    return cases


def run(binary, args, folder):
    stats = os.path.join(folder, "time.txt")
    process = subprocess.run(["/usr/bin/time", "-v", "-o", stats, binary] + args, cwd=folder,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600)
    text = open(stats, errors="replace").read()
    elapsed = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)", text)
    seconds = int(elapsed.group(1) or 0) * 3600 + int(elapsed.group(2)) * 60 + float(elapsed.group(3))
    cpu = sum(float(re.search(rf"{kind} time \(seconds\): ([\d.]+)", text).group(1)) for kind in ("User", "System"))
    rss_mb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1)) / 1024
    signal = re.search(r"Command terminated by signal (\d+)", text)
    status = -int(signal.group(1)) if signal else process.returncode
    return status, seconds, cpu, rss_mb, process.stdout.decode(errors="replace")


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "build"))
    binary = os.path.join(build, "tensorscope")
    if not os.access(binary, os.X_OK):
        sys.exit(f"{binary}: not built")
    folder = tempfile.mkdtemp(prefix="tensorscope-reliability-")
    f = lambda name: os.path.join(folder, name)
    dense = '{"type": "input", "shape": [2]}, {"type": "dense", "units": 3}, {"type": "softmax"}'

    # A real checkpoint to corrupt: spiral-mlp, one epoch.
    subprocess.run([binary, "train", "spiral-mlp", "--epochs", "1", "--save", f("base.ckpt")], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, cwd=folder)
    base = open(f("base.ckpt"), "rb").read()
    write(f("deep-config.ckpt"), rewrite_checkpoint(base, config=nested(60000)))
    write(f("epoch-max.ckpt"), rewrite_checkpoint(base, epoch=0xffffffff))
    write(f("config-array.ckpt"), rewrite_checkpoint(base, config="[]"))

    write(f("deep-layers.json"), '{"layers": ' + nested(60000) + "}")
    write(f("deep-lr.json"), '{"layers": [' + dense + '], "training": {"learning_rate": ' + nested(60000) + "}}")
    write(f("units-overflow.json"), '{"layers": [{"type": "input", "shape": [2]}, {"type": "dense", "units": 1e99999}, '
                                    '{"type": "softmax"}]}')
    write(f("kind-number.json"), '{"layers": [' + dense + '], "training": {"schedule": {"kind": 7}}}')
    # Written without spaces, so that the file (16 MB) is under the 16 MiB a model file may have.
    write(f("million-layers.json"), '{"layers":[{"type":"input","shape":[2]},' + '{"type":"relu"},' * 999997 +
          '{"type":"dense","units":3},{"type":"softmax"}]}')

    non_utf8 = f("data-\xff\xfe.csv".encode("latin-1").decode("utf-8", "surrogateescape"))
    write(non_utf8, "".join(f"{(i % 7) / 7:.3f},{(i % 5) / 5:.3f},{i % 3}\n" for i in range(300)))

    idx = f("idx-bomb")
    os.makedirs(idx)
    gzip_stream(os.path.join(idx, "train-images-idx3-ubyte.gz"), b"\0", 1 << 30)
    for name in ("train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        write(os.path.join(idx, name), b"")
    # The same with a valid header (60000 images of 28 x 28): the 1 GiB is more than it describes.
    idx_header = f("idx-header-bomb")
    os.makedirs(idx_header)
    with gzip.open(os.path.join(idx_header, "train-images-idx3-ubyte.gz"), "wb", compresslevel=9) as images:
        images.write(struct.pack(">IIII", 0x803, 60000, 28, 28))
        zeros = b"\0" * (1 << 20)
        for _ in range(1024):
            images.write(zeros)
    with gzip.open(os.path.join(idx_header, "train-labels-idx1-ubyte.gz"), "wb") as labels:
        labels.write(struct.pack(">II", 0x801, 60000) + b"\0" * 60000)
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        write(os.path.join(idx_header, name), b"")
    csv_bomb = gzip_stream(f("bomb.csv.gz"), b"0.5,0.25,1\n", 1600 * 1000 * 1000)

    bmp_cases = {"bmp-8000x40000": (8000, 40000, 62), "bmp-5x4194307": (5, 4194307, 310),
                 "bmp-5x-16777213": (5, -16777213, 62)}
    for name, (w, h, size) in bmp_cases.items():
        os.makedirs(f(name + "/a"))
        write(f(name + "/a/x.bmp"), bmp(w, h, size))

    # Readers added after issue 17: ONNX import, a puzzle kernel file (the Kernel Lab).
    onnx_cases = onnx_files(f)
    write(f("endless.glsl"), "uint i = gl_GlobalInvocationID.x;\nwhile (true) { i = i + 1u; }\nwrite_out(i, 0.0);\n")
    write(f("huge.glsl"), "// " + "x" * (20 << 20) + "\n")
    write(f("deep.glsl"), "float v = " + "(" * 100000 + "1.0" + ")" * 100000 + ";\n")
    write(f("macro-bomb.glsl"), "#define A0 +1.0\n" + "".join(f"#define A{i} A{i - 1} A{i - 1}\n" for i in range(1, 31)) +
          "float y = 0.0 A30;\nuint i = gl_GlobalInvocationID.x;\nwrite_out(i, read_a(i) + y);\n")

    # (case, arguments, expected outcome: "refused" or "trains")
    cases = [
        ("60 000-deep JSON in layers", ["train", f("deep-layers.json")], "refused"),
        ("60 000-deep JSON in training.learning_rate", ["train", f("deep-lr.json"), "--data", "spiral"], "refused"),
        ("60 000-deep embedded config, valid CRC (eval)", ["eval", f("deep-config.ckpt")], "refused"),
        ("60 000-deep embedded config, valid CRC (--resume)",
         ["train", "spiral-mlp", "--resume", f("deep-config.ckpt")], "refused"),
        ("units: 1e99999", ["train", f("units-overflow.json"), "--data", "spiral"], "refused"),
        ("schedule.kind a number", ["train", f("kind-number.json"), "--data", "spiral"], "refused"),
        ("non-UTF-8 data path with --save", ["train", "spiral-mlp", "--data", non_utf8, "--epochs", "1",
                                             "--save", f("utf8.ckpt")], "trains"),
        ("1 MB gzip IDX of 1 GiB zeros", ["train", "mnist-mlp", "--data", "idx:" + idx], "refused"),
        ("gzip IDX, valid header, then 1 GiB", ["train", "mnist-mlp", "--data", "idx:" + idx_header], "refused"),
        ("62-byte BMP, 8000 x 40000", ["train", "shapes-cnn", "--data", "images:" + f("bmp-8000x40000")], "refused"),
        ("310-byte BMP, 5 x 4194307", ["train", "shapes-cnn", "--data", "images:" + f("bmp-5x4194307")], "refused"),
        ("BMP of negative height 5 x -16777213",
         ["train", "shapes-cnn", "--data", "images:" + f("bmp-5x-16777213")], "refused"),
        (".csv.gz unpacking to 1.6 GB", ["train", "spiral-mlp", "--data", csv_bomb], "refused"),
        ("/dev/zero as the model", ["train", "/dev/zero"], "refused"),
        ("/dev/zero as the checkpoint (eval)", ["eval", "/dev/zero"], "refused"),
        ("/dev/zero as the checkpoint (--resume)", ["train", "spiral-mlp", "--resume", "/dev/zero"], "refused"),
        ("1e6-layer model", ["train", f("million-layers.json"), "--data", "spiral"], "refused"),
        ("--steps-per-submit 1000000", ["train", "spiral-mlp", "--steps-per-submit", "1000000"], "refused"),
        ("checkpoint epoch 2^32-1 (--resume)", ["train", "spiral-mlp", "--resume", f("epoch-max.ckpt")], "refused"),
        ("checkpoint epoch 2^32-1 (eval)", ["eval", f("epoch-max.ckpt")], "refused"),
        ("embedded config an array (--resume)", ["train", "spiral-mlp", "--resume", f("config-array.ckpt")], "refused"),
        ("embedded config an array (eval)", ["eval", f("config-array.ckpt")], "refused"),
        ("/dev/zero as an ONNX model", ["import", "/dev/zero", "-o", f("zero.ckpt")], "refused"),
        *[(name, ["import", path, "-o", f("onnx.ckpt")], "refused") for name, path in onnx_cases],
        ("/dev/zero as a puzzle kernel", ["lab", "puzzle", "map", "--check", "/dev/zero", "--no-time"], "refused"),
        ("a 20 MB puzzle kernel", ["lab", "puzzle", "map", "--check", f("huge.glsl"), "--no-time"], "refused"),
        ("a puzzle kernel nested 100 000 parentheses deep",
         ["lab", "puzzle", "map", "--check", f("deep.glsl"), "--no-time"], "refused"),
        # 2^30 tokens: glslang would take minutes and gigabytes; its child process stops at 3 s of CPU or 512 MiB.
        ("a puzzle kernel whose macro expands to 2^30 tokens",
         ["lab", "puzzle", "map", "--check", f("macro-bomb.glsl"), "--no-time"], "refused", 4.0),
        ("a puzzle kernel that never ends", ["lab", "puzzle", "map", "--check", f("endless.glsl"), "--no-time"],
         "refused"),
    ]
    print("| case | exit | wall (s) | CPU (s) | peak RSS (MB) | message (first line) | verdict |")
    print("|---|---|---|---|---|---|---|")
    failures = 0
    for name, args, expected, *bar in cases:
        cpu_limit = bar[0] if bar else TIME_LIMIT_S
        status, seconds, cpu, rss_mb, output = run(binary, args, folder)
        lines = [l for l in output.splitlines() if l.strip()]
        message = (lines[0] if expected == "refused" and lines else lines[-1] if lines else "").replace(folder + "/", "")
        problems = []
        if status < 0:
            problems.append(f"killed by signal {-status}")
        if any(raw in output for raw in RAW_MESSAGES):
            problems.append("raw library message")
        if expected == "refused":
            if status == 0:
                problems.append("accepted")
            if cpu > cpu_limit:
                problems.append(f"over {cpu_limit:g} s of CPU")
        elif status != 0 or not os.path.exists(f("utf8.ckpt")):
            problems.append("did not train and save")
        if rss_mb > RSS_LIMIT_MB:
            problems.append(f"over {RSS_LIMIT_MB} MB")
        failures += bool(problems)
        verdict = "ok" if not problems else "FAIL: " + ", ".join(problems)
        shown = message if len(message) <= 140 else message[:137] + "..."
        print(f"| {name} | {status} | {seconds:.2f} | {cpu:.2f} | {rss_mb:.0f} | {shown.replace('|', '/')} | {verdict} |", flush=True)
    subprocess.run(["rm", "-rf", folder])
    print(f"{len(cases) - failures} of {len(cases)} cases within the bar" + ("" if not failures else f"; {failures} FAILED"))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
