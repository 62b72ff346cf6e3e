// data_source.py of a PyTorch export (pytorch_export.h) whose data are IDX
// files, CIFAR-10 binary batches or an image folder: read from where they lie,
// split as Tensorscope split them, checked against each sample's hash. The
// same text for every export; numpy, and Pillow or OpenCV for images.
#include "compute/interop/pytorch_export.h"

namespace ts::interop {

const char* PytorchDataSourceScript() {
  return R"PY("""The run's data, read from its original files and split as Tensorscope split it.

data/source.json names the files (IDX images and labels, CIFAR-10 binary batches, raw or
gzipped, or an image folder's images with their labels), how Tensorscope scales their
bytes (value * scale + offset, in float32) and, per split, which file set it comes from
and data/<split>_index.npy: the indices of its samples in that set, in Tensorscope's
order (the validation samples are a shuffled share of the training files).
load(split) gives (x, y): x float32 in the model's input shape (N, C, H, W for an image
input; a flat input takes each image's values in Tensorscope's order, height, width,
channel), y int64.

Images are decoded with Pillow, or OpenCV when Pillow is missing (DECODER = "pil" or
"cv2" picks one), and turned into what Tensorscope made of them: alpha dropped, colour
to gray by Rec. 601 luma in integers ((299 R + 587 G + 114 B + 500) // 1000), gray to
colour by repetition, 16-bit samples to their high byte, then resized to the run's size
per axis (bilinear with aligned pixel centres where an axis grows or keeps its size, the
exact area mean where it shrinks; rounded half up), no EXIF rotation. PNG and BMP give
Tensorscope's bytes exactly; JPEG decoders differ (Tensorscope's stb_image and the
libjpeg-turbo of Pillow and OpenCV: up to 3 levels of 255 in 1-12% of the pixels).
data/<split>_hash.npy holds a hash of each sample's bytes as Tensorscope held them:
load() warns when JPEG samples differ and raises when any other sample does (the file
changed since the export).
"""
import gzip
import json
import os
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DECODER = None  # "pil", "cv2" or None: Pillow when it can be imported, else OpenCV
HASH_BASE = np.uint64(1099511628211)


def read_bytes(path):
    with open(path, "rb") as f:
        data = f.read()
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def read_idx(path):
    """An IDX file's array (unsigned bytes: MNIST's images or labels)."""
    data = read_bytes(path)
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 8:
        raise ValueError("%s: not an IDX file of unsigned bytes" % path)
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims, count=int(np.prod(shape))).reshape(shape)


# Each loader gives (images N x H x W x C, labels) of the samples at `index` in the
# file set `which` ("train" or "test").
def load_idx(source, which, index):
    files = source[which + "_files"]
    images, labels = read_idx(files[0]), read_idx(files[1])
    return images[index][..., None], labels[index]


def load_cifar10(source, which, index):
    files = source[which + "_files"]
    records = np.concatenate([np.frombuffer(read_bytes(f), dtype=np.uint8).reshape(-1, 3073) for f in files])[index]
    return records[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), records[:, 0]


def decode_pil(path):
    from PIL import Image
    with Image.open(path) as image:
        if image.mode == "P":
            image = image.convert("RGBA" if "transparency" in image.info else "RGB")
        elif image.mode == "1":
            image = image.convert("L")
        elif image.mode not in ("L", "LA", "RGB", "RGBA", "I", "I;16", "I;16B", "I;16L"):  # "I": 16-bit gray
            image = image.convert("RGB")
        pixels = np.asarray(image)
    if pixels.dtype != np.uint8:  # 16-bit samples: Tensorscope keeps the high byte
        pixels = (pixels.astype(np.uint32) >> 8).astype(np.uint8)
    return pixels


def decode_cv2(path):
    import cv2
    pixels = cv2.imdecode(np.fromfile(path, dtype=np.uint8), cv2.IMREAD_UNCHANGED)  # no EXIF rotation
    if pixels is None:
        raise ValueError("%s: OpenCV cannot decode the image" % path)
    if pixels.dtype != np.uint8:
        pixels = (pixels.astype(np.uint32) >> 8).astype(np.uint8)
    if pixels.ndim == 3 and pixels.shape[2] >= 3:
        pixels = pixels[:, :, [2, 1, 0] + ([3] if pixels.shape[2] == 4 else [])]  # BGR(A) to RGB(A)
    return pixels


def decoder():
    if DECODER in ("pil", "cv2"):
        return decode_pil if DECODER == "pil" else decode_cv2
    try:
        import PIL.Image  # noqa: F401
        return decode_pil
    except ImportError:
        pass
    try:
        import cv2  # noqa: F401
        return decode_cv2
    except ImportError:
        raise ImportError("data_source.py decodes the run's images with Pillow or OpenCV: install one "
                          "(pip install pillow, or apt install python3-pil)") from None


def convert_channels(pixels, channels):
    """H x W x channels uint8, as Tensorscope converts: alpha dropped, luma or repetition."""
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    colour = pixels.shape[2] >= 3  # 2 and 4 channels are gray and RGB plus alpha
    if channels == 1:
        if not colour:
            return pixels[:, :, :1]
        rgb = pixels[:, :, :3].astype(np.uint32)
        return ((299 * rgb[:, :, 0] + 587 * rgb[:, :, 1] + 114 * rgb[:, :, 2] + 500) // 1000).astype(np.uint8)[:, :, None]
    return pixels[:, :, :3] if colour else np.repeat(pixels[:, :, :1], 3, axis=2)


def axis_taps(size_in, size_out):
    """Per output pixel the input pixels and weights Tensorscope's resize uses, padded with weight 0."""
    step = size_in / size_out
    taps = []
    for i in range(size_out):
        pixel = []
        if size_out < size_in:
            start, end = i * step, (i + 1) * step
            for j in range(int(start), min(size_in, int(np.ceil(end)))):
                pixel.append((j, (min(end, j + 1.0) - max(start, float(j))) / step))
        else:
            centre = min(max((i + 0.5) * step - 0.5, 0.0), float(size_in - 1))
            left = int(centre)
            fraction = centre - left
            pixel += [(left, 1.0 - fraction), (min(left + 1, size_in - 1), fraction)]
        taps.append([(j, w) for j, w in pixel if w > 0.0])
    width = max(len(t) for t in taps)
    source = np.zeros((size_out, width), dtype=np.int64)
    weight = np.zeros((size_out, width), dtype=np.float64)
    for i, pixel in enumerate(taps):
        for k, (j, w) in enumerate(pixel):
            source[i, k], weight[i, k] = j, w
    return source, weight


def resize(pixels, height, width):
    """Tensorscope's ResizeImage: across, then down, in float64 and in its order of sums."""
    if pixels.shape[0] == height and pixels.shape[1] == width:
        return pixels
    source, weight = axis_taps(pixels.shape[1], width)
    values = pixels.astype(np.float64)
    across = np.zeros((pixels.shape[0], width, pixels.shape[2]))
    for k in range(source.shape[1]):
        across += weight[None, :, k, None] * values[:, source[:, k], :]
    source, weight = axis_taps(pixels.shape[0], height)
    down = np.zeros((height, width, pixels.shape[2]))
    for k in range(source.shape[1]):
        down += weight[:, k, None, None] * across[source[:, k]]
    down = np.clip(down, 0.0, 255.0)
    whole = np.floor(down)
    return (whole + (down - whole >= 0.5)).astype(np.uint8)


def load_image_folder(source, which, index):
    channels, height, width = source["image_shape"]
    files, labels = source[which + "_files"], np.asarray(source[which + "_labels"], dtype=np.int64)
    decode = decoder()
    images = np.empty((len(index), height, width, channels), dtype=np.uint8)
    for n, i in enumerate(index):
        try:
            images[n] = resize(convert_channels(decode(files[i]), channels), height, width)
        except Exception as error:
            raise ValueError("%s: %s" % (files[i], error)) from error
    return images, labels[index]


LOADERS = {"idx": load_idx, "cifar10": load_cifar10, "image_folder": load_image_folder}


def sample_hashes(images):
    """Each sample's bytes (height, width, channel) hashed as Tensorscope hashed them."""
    flat = images.reshape(len(images), -1)
    powers = np.cumprod(np.full(flat.shape[1], HASH_BASE, dtype=np.uint64))
    hashes = np.empty(len(flat), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for start in range(0, len(flat), 1024):  # a chunk at a time: 8 bytes per byte of data
            hashes[start:start + 1024] = (flat[start:start + 1024].astype(np.uint64) * powers).sum(axis=1, dtype=np.uint64)
    return hashes


def check_hashes(split, source, files, index, images):
    path = os.path.join(HERE, "data", split + "_hash.npy")
    if not os.path.exists(path):
        return
    differ = np.nonzero(sample_hashes(images) != np.load(path))[0]
    if len(differ) == 0:
        return
    if source["format"] == "image_folder":
        names = [files[index[i]] for i in differ]
        jpeg = [n for n in names if n.lower().endswith((".jpg", ".jpeg"))]
        if len(jpeg) == len(names):
            warnings.warn("%d of %d %s images decode to other bytes than Tensorscope trained on (JPEG decoders "
                          "differ: up to 3 levels of 255 in a few per cent of the pixels), e.g. %s" % (len(names), len(images), split, names[0]))
            return
        other = [n for n in names if n not in jpeg]
        raise ValueError("%d of %d %s images are not the ones Tensorscope trained on (changed since the export?), "
                         "e.g. %s" % (len(other), len(images), split, other[0]))
    raise ValueError("%d of %d %s samples are not the ones Tensorscope trained on (did %s change since the export?), "
                     "e.g. sample %d" % (len(differ), len(images), split, " or ".join(files), index[differ[0]]))


def load(split):
    """(x, y) of "train", "validation" or "test"; None when the run had no such split."""
    with open(os.path.join(HERE, "data", "source.json")) as f:
        source = json.load(f)
    if split not in source["splits"]:
        return None
    which = source["splits"][split]
    index = np.load(os.path.join(HERE, "data", split + "_index.npy"))
    images, labels = LOADERS[source["format"]](source, which, index)  # N x H x W x C bytes
    check_hashes(split, source, source[which + "_files"], index, images)
    x = images.astype(np.float32) * np.float32(source["scale"]) + np.float32(source["offset"])
    if len(source["input_shape"]) == 3:
        x = x.transpose(0, 3, 1, 2)  # N, C, H, W
    else:  # a flat input: each image's values as Tensorscope orders them (H, W, C)
        x = x.reshape(len(x), -1)
    return np.ascontiguousarray(x), labels.astype(np.int64)
)PY";
}

}  // namespace ts::interop
