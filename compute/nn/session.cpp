#include "compute/nn/session.h"

#include "compute/nn/session_worker.h"

namespace ts::nn {

const char* SessionStateName(SessionState state) {
  switch (state) {
    case SessionState::kEmpty: return "empty";
    case SessionState::kReady: return "ready";
    case SessionState::kRunning: return "running";
    case SessionState::kPaused: return "paused";
    case SessionState::kFinished: return "finished";
    case SessionState::kFailed: return "failed";
  }
  return "?";
}

void TrainingSession::Worker::Run() {
  for (;;) {
    std::optional<Command> command;
    {
      std::unique_lock lock(mutex);
      // While training (or drawing a sample), only look for commands between
      // submissions; otherwise sleep until one arrives.
      if (state != SessionState::kRunning && !text_pending)
        wake.wait(lock, [&] { return quit || !commands.empty(); });
      if (quit) {
        // Checkpoints asked for before quitting are still written (closing the
        // window keeps what was trained); every other command is dropped.
        std::erase_if(commands, [](const Command& c) { return !std::holds_alternative<SaveCheckpointCommand>(c); });
        if (commands.empty()) break;
      }
      if (!commands.empty()) {
        command = std::move(commands.front());
        commands.pop_front();
      }
    }
    if (command) {
      Execute(*command);
      continue;  // every queued command applies before the next submission
    }
    if (state == SessionState::kRunning) {
      try {
        // Two submissions in flight: the device works on the second while
        // this thread wakes up for the first (a loaded CPU is slow to wake it).
        const Clock::time_point turn_start = Clock::now();
        TrainWatched(StepsForNextSubmission(), 2);
        if (state == SessionState::kRunning) SendSnapshot(false);
        training_turn_seconds = std::chrono::duration<double>(Clock::now() - turn_start).count();
      } catch (const std::exception& e) {
        Fail(e.what());
      }
    }
    // A sample in progress gets a few characters between submissions.
    if (sample_request) AdvanceSample();
  }
  // Device objects go away on the thread that used them.
  ForgetText();
  ForgetInsideProbes();
  boundary.reset();
  UseTrainers({});
}

RunTrainers TrainingSession::Worker::BuildTrainers(const SessionSetup& run_setup, const TrainConfig& config) {
  RunTrainers built;
  if (config.replicas <= 1) {
    built.single = std::make_unique<Trainer>(context, pipelines, run_setup.model, config, run_setup.train.get(),
                                             run_setup.validation.get(), forced_variant);
    return built;
  }
  // Replica 0 on this device (the window's), the others on logical devices of
  // their own: several physical devices are not shared with a window here.
  std::vector<vk::Context*> contexts = {&context};
  for (uint32_t r = 1; r < config.replicas; ++r) {
    vk::ContextOptions options = replica_options;
    options.device_index = static_cast<int>(context.info().index);
    built.replica_contexts.push_back(vk::Context::Create(options));
    contexts.push_back(built.replica_contexts.back().get());
  }
  built.replicas = std::make_unique<parallel::DataParallelTrainer>(contexts, run_setup.model, config,
                                                                   run_setup.train.get(), run_setup.validation.get());
  return built;
}

void TrainingSession::Worker::UseTrainers(RunTrainers built) {
  trainer = nullptr;
  replicas = nullptr;
  {
    RunTrainers old = std::move(run_trainers);  // freed here, before the new ones are used
  }
  run_trainers = std::move(built);
  trainer = run_trainers.primary();
  replicas = run_trainers.replicas.get();
}

void TrainingSession::Worker::Execute(Command& command) {
  try {
    std::visit(Overloaded{
                   [&](LoadCommand& c) { run = c.run; Load(std::move(c.setup)); },
                   [&](StartCommand&) { Start(); },
                   [&](PauseCommand&) { Pause(); },
                   [&](StepCommand&) { Step(); },
                   [&](StopCommand&) { Stop(); },
                   [&](ResetCommand& c) { run = c.run; Reset(); },
                   [&](UnloadCommand& c) { run = c.run; Unload(); },
                   [&](SetConfigCommand& c) { SetConfig(c.config); },
                   [&](SetLearningRateCommand& c) { SetLearningRate(c.learning_rate); },
                   [&](SetOptimizerCommand& c) { SetOptimizer(c.optimizer); },
                   [&](SetBatchSizeCommand& c) { SetBatchSize(c.batch_size); },
                   [&](SaveCheckpointCommand& c) { SaveCheckpoint(c.path); },
                   [&](SetInsideCommand& c) { SetInside(c.request); },
                   [&](SetWatchCommand& c) { watch = c.watch; },
                   [&](PredictInputCommand& c) { PredictInput(c.samples, c.request); },
                   [&](ProfileCommand&) { RequestProfile(false); },
                   [&](TraceCommand&) { RequestProfile(true); },
                   [&](CeilingsCommand& c) { MeasureCeilings(c.remeasure); },
                   [&](ExperimentCommand& c) { RunExperiment(c.request); },
                   [&](SetForcedVariantCommand& c) { SetForcedVariant(c.variant); },
                   [&](SampleCommand& c) { StartSample(c.request); },
                   [&](AttentionCommand& c) { AnswerAttention(c.request); },
               },
               command);
  } catch (const DivergenceError& e) {
    Fail(e.what());
  } catch (const std::exception& e) {
    // A rejected command (bad setting, unwritable path): the session carries on as it was.
    ReportError(e.what());
  }
}

bool TrainingSession::Worker::RequireTrainer(const char* action) {
  if (trainer) return true;
  ReportError(std::string("Cannot ") + action + ": load a model and its data first.");
  return false;
}

bool TrainingSession::Worker::RequireTrainable(const char* action) {
  if (!RequireTrainer(action)) return false;
  if (state == SessionState::kFailed) {
    ReportError(std::string("Cannot ") + action + ": training failed. Reset (or load again) first.");
    return false;
  }
  if (trainer->finished()) {
    ReportError(std::string("Cannot ") + action + ": all " + std::to_string(RunConfig().epochs) +
                " epochs are done. Reset to train again.");
    return false;
  }
  return true;
}

void TrainingSession::Worker::Load(SessionSetup next) {
  // Free the previous run's device memory before building the next one.
  ForgetText();
  ForgetInsideProbes();
  boundary.reset();
  UseTrainers({});
  setup = {};
  PublishDispatches();
  try {
    Require(next.train != nullptr, "Cannot load: there is no training data.");
    Require(next.boundary_resolution >= 1 && next.boundary_resolution <= kMaxBoundaryResolution,
            "The decision boundary resolution must be 1 to " + std::to_string(kMaxBoundaryResolution) + "; got " +
                std::to_string(next.boundary_resolution) + ".");
    UseTrainers(BuildTrainers(next, next.config));
    if (next.resume) {
      RestoreCheckpoint(*trainer, *next.resume, next.resume_source);
      if (replicas) replicas->BroadcastFromPrimary();
    }
    setup = std::move(next);
    watch = setup.watch;
    last_timed = {};  // the run's first submission is timed
    last_test_time = {};
    last_snapshot_seconds = last_test_seconds = 0;
  } catch (const std::exception& e) {
    if (state != SessionState::kEmpty) SetState(SessionState::kEmpty, "load failed");
    ReportError(e.what());
    return;
  }
  if (TakesTwoFeatures(setup.model)) {
    try {
      boundary = std::make_unique<BoundaryEvaluator>(context, pipelines, setup.model, setup.config,
                                                     setup.boundary_resolution, setup.boundary_extent);
    } catch (const std::exception& e) {
      // Training does not need the boundary (e.g. a grid too large for the device).
      ReportError(std::string("The decision boundary is off: ") + e.what());
    }
  }
  PublishDispatches();
  progress = {};
  seconds_per_step = 0;
  loss_watch = LossWatch(StepsPerEpoch());
  const std::string loaded = "loaded '" + setup.model.name + "': " + std::to_string(trainer->plan().parameter_count()) +
                             " parameters, " + std::to_string(StepsPerEpoch()) + " steps per epoch" +
                             (replicas ? ", " + std::to_string(replicas->replicas()) +
                                             " data-parallel replicas simulated on one device"
                                       : std::string());
  if (setup.resume)
    SetState(SessionState::kFinished, loaded + "; restored from " + setup.resume_source + " at " + Where(trainer->position()));
  else
    SetState(SessionState::kReady, loaded);
  SendSnapshot(true);
}

void TrainingSession::Worker::Start() {
  if (state == SessionState::kRunning || !RequireTrainable("start")) return;
  SetState(SessionState::kRunning, "training from " + Where(trainer->position()));
}

void TrainingSession::Worker::Pause() {
  if (state != SessionState::kRunning) return;
  SetState(SessionState::kPaused, "paused before " + Where(trainer->position()));
  SendSnapshot(true);
}

void TrainingSession::Worker::Step() {
  if (!RequireTrainable("step")) return;
  TrainWatched(1, 1);
  if (state == SessionState::kFinished) return;  // that was the last step; already reported
  SetState(SessionState::kPaused, "stepped; paused before " + Where(trainer->position()));
  SendSnapshot(true);
}

void TrainingSession::Worker::Stop() {
  if (state != SessionState::kRunning && state != SessionState::kPaused) return;
  SetState(SessionState::kFinished, "stopped before " + Where(trainer->position()));
  SendSnapshot(true);
}

void TrainingSession::Worker::Reset() {
  if (!RequireTrainer("reset")) return;
  trainer->plan().InitializeParameters(static_cast<uint32_t>(RunConfig().seed));  // also zeroes optimizer state
  trainer->set_position({});
  if (replicas) replicas->BroadcastFromPrimary();  // the weights, zeroed state and position to every replica
  progress = {};
  seconds_per_step = 0;
  loss_watch = LossWatch(StepsPerEpoch());
  last_inside.reset();
  ForgetText();
  SetState(SessionState::kReady, "reset");
  SendSnapshot(true);
}

void TrainingSession::Worker::Unload() {
  ForgetText();
  ForgetInsideProbes();
  boundary.reset();
  UseTrainers({});
  setup = {};
  progress = {};
  PublishDispatches();
  if (state != SessionState::kEmpty) SetState(SessionState::kEmpty, "unloaded");
}

void TrainingSession::Worker::SetConfig(const TrainConfig& wanted) {
  if (!RequireTrainer("change the settings")) return;
  ValidateTrainConfig(wanted);
  const TrainConfig& now = RunConfig();
  std::vector<std::string> changes;
  auto note = [&](bool differs, const std::string& what, const std::string& before, const std::string& after) {
    if (differs) changes.push_back(what + " " + before + " -> " + after);
  };
  note(wanted.learning_rate != now.learning_rate, "lr", FormatNumber(now.learning_rate), FormatNumber(wanted.learning_rate));
  note(wanted.optimizer != now.optimizer, "optimizer", kernels::OptimizerName(now.optimizer),
       kernels::OptimizerName(wanted.optimizer));
  note(wanted.batch_size != now.batch_size, "batch", std::to_string(now.batch_size), std::to_string(wanted.batch_size));
  note(wanted.epochs != now.epochs, "epochs", std::to_string(now.epochs), std::to_string(wanted.epochs));
  note(TrainConfigToJson(wanted)["schedule"] != TrainConfigToJson(now)["schedule"], "schedule",
       TrainConfigToJson(now)["schedule"].dump(), TrainConfigToJson(wanted)["schedule"].dump());
  note(wanted.hyper.weight_decay != now.hyper.weight_decay, "weight decay", FormatNumber(now.hyper.weight_decay),
       FormatNumber(wanted.hyper.weight_decay));
  // Anything else (momentum, betas, augmentation, submission size): one note.
  TrainConfig compared = wanted;
  compared.learning_rate = now.learning_rate;
  compared.optimizer = now.optimizer;
  compared.batch_size = now.batch_size;
  compared.epochs = now.epochs;
  compared.schedule = now.schedule;
  compared.hyper.weight_decay = now.hyper.weight_decay;
  compared.data = now.data;
  if (TrainConfigToJson(compared) != TrainConfigToJson(now)) changes.push_back("other settings");
  if (changes.empty()) return;
  const bool only_rate = changes.size() == 1 && wanted.learning_rate != now.learning_rate;
  if (only_rate) {
    trainer->set_learning_rate(wanted.learning_rate);  // keeps the plan and the optimizer state
    if (replicas) replicas->set_learning_rate(wanted.learning_rate);
  } else {
    TrainConfig config = wanted;
    config.data = now.data;
    // A new optimizer's state means something else: it starts from zero.
    Rebuild(config, /*keep_optimizer_state=*/wanted.optimizer == now.optimizer);
  }
  std::string message;
  for (const std::string& change : changes) message += (message.empty() ? "" : ", ") + change;
  EmitSettingChanged(message);
  SendSnapshot(true);
}

void TrainingSession::Worker::SetLearningRate(double learning_rate) {
  if (!RequireTrainer("change the learning rate")) return;
  double before = RunConfig().learning_rate;
  if (learning_rate == before) return;
  trainer->set_learning_rate(learning_rate);
  if (replicas) replicas->set_learning_rate(learning_rate);
  EmitSettingChanged("lr " + FormatNumber(before) + " -> " + FormatNumber(learning_rate));
}

void TrainingSession::Worker::SetOptimizer(kernels::OptimizerKind optimizer) {
  if (!RequireTrainer("change the optimizer")) return;
  kernels::OptimizerKind before = RunConfig().optimizer;
  if (optimizer == before) return;
  TrainConfig config = RunConfig();
  config.optimizer = optimizer;
  Rebuild(config, /*keep_optimizer_state=*/false);  // the new optimizer's state means something else
  EmitSettingChanged(std::string("optimizer ") + kernels::OptimizerName(before) + " -> " +
                     kernels::OptimizerName(optimizer));
  SendSnapshot(true);
}

void TrainingSession::Worker::SetBatchSize(uint32_t batch_size) {
  if (!RequireTrainer("change the batch size")) return;
  uint32_t before = RunConfig().batch_size;
  if (batch_size == before) return;
  TrainConfig config = RunConfig();
  config.batch_size = batch_size;
  Rebuild(config, /*keep_optimizer_state=*/true);
  EmitSettingChanged("batch " + std::to_string(before) + " -> " + std::to_string(batch_size));
  SendSnapshot(true);
}

void TrainingSession::Worker::Rebuild(const TrainConfig& config, bool keep_optimizer_state) {
  // Built beside the current trainer, so a rejected setting leaves the run as it was.
  RunTrainers built = BuildTrainers(setup, config);
  Trainer& fresh = *built.primary();
  fresh.plan().WriteParameters(trainer->plan().ReadParameters());
  fresh.plan().WriteStatistics(trainer->plan().ReadStatistics());  // batch norm's running mean and variance
  if (keep_optimizer_state) fresh.plan().WriteOptimizerState(trainer->plan().ReadOptimizerState());
  TrainPosition position = trainer->position();
  const uint32_t steps_per_epoch = built.replicas ? built.replicas->steps_per_epoch() : fresh.steps_per_epoch();
  if (config.batch_size != RunConfig().batch_size) {
    // The epoch's sample order does not depend on the batch size, so carry on
    // from the batch holding the first sample not yet trained on.
    uint64_t trained = uint64_t(position.step_in_epoch) * RunConfig().batch_size;
    position.step_in_epoch = static_cast<uint32_t>(std::min<uint64_t>(trained / config.batch_size, steps_per_epoch - 1));
  }
  fresh.set_position(position);
  if (built.replicas) built.replicas->BroadcastFromPrimary();  // the weights, state and position to every replica
  seconds_per_step = 0;  // a new batch size: measure again
  UseTrainers(std::move(built));
  PublishDispatches();
}

void TrainingSession::Worker::SetForcedVariant(ForcedVariant variant) {
  const ForcedVariant before = forced_variant;
  if (variant == before) return;
  forced_variant = variant;
  if (!trainer) return;  // the next Load compiles with it
  try {
    Rebuild(RunConfig(), /*keep_optimizer_state=*/true);
  } catch (...) {
    forced_variant = before;  // the run goes on as it was
    throw;
  }
  last_timed = {};  // time the next submission: the new kernels' dots at once
  // Say where the variant took and which kernels do not have it.
  uint32_t forced = 0;
  std::vector<std::string> lacking;
  for (const DispatchInfo& d : trainer->step_dispatches()) {
    const KernelChoice* choice = trainer->plan().kernel_choice(d.label);
    if (!choice) continue;
    forced += choice->how == KernelChoice::How::kForced;
    if (!choice->not_applied.empty() && std::find(lacking.begin(), lacking.end(), d.kernel) == lacking.end())
      lacking.push_back(d.kernel);
  }
  std::string message = std::string("kernel variant ") + ForcedVariantName(before) + " -> " + ForcedVariantName(variant);
  if (variant != ForcedVariant::kNone) {
    message += " (forced on " + std::to_string(forced) + " dispatch(es)";
    for (const std::string& kernel : lacking)
      message += std::string("; ") + kernel + " has no " + ForcedVariantName(variant) + " kernel";
    message += ")";
  }
  EmitSettingChanged(message);
}

void TrainingSession::Worker::SaveCheckpoint(const std::string& path) {
  if (!RequireTrainer("save a checkpoint")) return;
  Checkpoint checkpoint = CaptureCheckpoint(*trainer);
  checkpoint.config = TrainConfigToJson(RunConfig());  // the global batch and the replicas, not replica 0's share
  nn::SaveCheckpoint(path, checkpoint);
  Emit(Event(SessionEvent::Kind::kCheckpointSaved, path));
}

void TrainingSession::Worker::TrainWatched(uint32_t submission_steps, uint32_t submissions) {
  const Clock::time_point now = Clock::now();
  const bool timed = profile_pending || trace_pending || last_timed == Clock::time_point{} ||
                     now - last_timed >= std::chrono::duration<double>(watch.timing_interval);
  TimeNextSubmission(*trainer, timed);
  if (timed) last_timed = now;
  // A sampled timed turn has the device to itself: the window holds its frame.
  // (Timing every turn, there is nothing to single out, and frames must go on.)
  const bool gated = timed && watch.timing_interval > 0 && gate.Close(kTimingPatience);
  try {
    TrainSubmissions(submission_steps, submissions);
  } catch (...) {
    if (gated) gate.Open();
    throw;
  }
  if (gated) gate.Open();
  trace_pending = profile_pending = false;
}

void TrainingSession::Worker::TrainSubmissions(uint32_t submission_steps, uint32_t submissions) {
  const uint32_t epoch = trainer->position().epoch;
  const uint32_t batch_size = RunConfig().batch_size;
  // RunSteps would carry on into the next epoch; stop at its end to evaluate.
  const uint32_t max_steps =
      std::min(submission_steps * submissions, StepsPerEpoch() - trainer->position().step_in_epoch);
  std::vector<StepReport> reports;
  auto start = Clock::now();
  if (replicas)
    replicas->RunSteps(max_steps, [&](const StepReport& report) { reports.push_back(report); });
  else
    trainer->RunSteps(max_steps, [&](const StepReport& report) { reports.push_back(report); }, submission_steps);
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  progress.seconds += seconds;
  if (!reports.empty()) {
    // A submission queued behind a window's frame (one queue) takes longer than
    // its steps: waits only add, so the estimate follows a faster submission at
    // once and a slower one by 2% a submission. An average here measured 1.7 to
    // 7.5 ms a spiral step (0.5 ms alone) and sized submissions to one step.
    const double per_step = seconds / double(reports.size());
    seconds_per_step = seconds_per_step > 0 ? std::min(per_step, seconds_per_step * 1.02) : per_step;
  }
  for (const StepReport& report : reports) {
    if (std::optional<std::string> warning = loss_watch.Add(report.global_step, report.loss))
      Emit(Event(SessionEvent::Kind::kWarning, *warning));
    progress.loss_sum += report.loss;
    progress.accuracy_sum += report.accuracy;
    progress.steps += 1;
    progress.samples += batch_size;
  }
  {
    std::lock_guard lock(mutex);
    for (StepReport& report : reports) {
      SessionEvent event = Event(SessionEvent::Kind::kStep);
      event.step = std::move(report);
      event.plan_memory = trainer->plan().memory();
      event.dataset_bytes = replicas ? replicas->dataset_device_bytes() : trainer->dataset_device_bytes();
      events.push_back(std::move(event));
    }
  }
  if (trainer->position().epoch != epoch) FinishEpoch(epoch);
  if (trainer->finished()) {
    SetState(SessionState::kFinished, "finished " + std::to_string(RunConfig().epochs) + " epochs");
    SendSnapshot(true);
  }
}

void TrainingSession::Worker::FinishEpoch(uint32_t epoch) {
  auto start = Clock::now();
  SessionEvent event = Event(SessionEvent::Kind::kEpoch);
  EpochSummary& summary = event.epoch;
  summary.epoch = epoch;
  summary.train_loss = progress.steps ? progress.loss_sum / progress.steps : 0;
  summary.train_accuracy = progress.steps ? progress.accuracy_sum / progress.steps : 0;
  summary.samples = progress.samples;
  summary.validation = trainer->EvaluateValidation();
  // The test set when it is due: every epoch, or within the visual share (always after the last).
  const bool test_due = watch.test_every_epoch || epoch + 1 >= RunConfig().epochs ||
                        last_test_time == Clock::time_point{} ||
                        std::chrono::duration<double>(start - last_test_time).count() * watch.visual_share >=
                            last_test_seconds;
  if (setup.test && test_due) {
    try {
      const auto test_start = Clock::now();
      std::vector<float> outputs;
      event.test = trainer->EvaluateWithOutputs(*setup.test, outputs);
      event.test_mistakes = ConfidentMistakes(*setup.test, outputs, trainer->plan().output_features(),
                                              SessionEvent::kMistakesShown);
      last_test_time = Clock::now();
      last_test_seconds = std::chrono::duration<double>(last_test_time - test_start).count();
    } catch (const DivergenceError&) {
      throw;
    } catch (const Error& e) {
      // A test set that does not fit the model should not stop the training.
      ReportError(std::string("The test set is left out: ") + e.what());
      setup.test.reset();
    }
  }
  summary.seconds = progress.seconds + std::chrono::duration<double>(Clock::now() - start).count();
  progress = {};
  Emit(std::move(event));
  SendSnapshot(false);
}

void TrainingSession::Worker::SendSnapshot(bool force) {
  if (!trainer) return;
  auto start = Clock::now();
  // At most every snapshot_interval (twice that without a boundary), and
  // rarer when a snapshot is slow: they take at most half the visual share.
  const double least = watch.snapshot_interval * (boundary ? 1 : 2);
  const double interval = std::max(least, last_snapshot_seconds * 2 / std::max(watch.visual_share, 1e-3));
  if (!force && start - last_snapshot < std::chrono::duration<double>(interval)) return;
  auto snapshot = std::make_shared<nn::Snapshot>();
  snapshot->global_step = trainer->position().global_step;
  snapshot->layout = trainer->plan().parameters();
  snapshot->parameters = trainer->plan().ReadParameters();
  // ReadParameters packs the tensors without the buffer's alignment padding:
  // make the offsets index `parameters`.
  uint64_t offset = 0;
  for (ParameterTensor& tensor : snapshot->layout) {
    tensor.offset = offset;
    offset += tensor.count;
  }
  if (boundary) {
    BoundaryResult grid = boundary->Evaluate(snapshot->parameters, trainer->plan().ReadStatistics(), /*with_hidden=*/true);
    snapshot->boundary_resolution = grid.resolution;
    snapshot->classes = grid.classes;
    snapshot->boundary = std::move(grid.probabilities);
    for (GridActivations& layer : grid.hidden)
      snapshot->hidden.push_back({std::move(layer.name), layer.layer, layer.units, std::move(layer.activations)});
  }
  // The budget learns from snapshots taken while training (a forced one may
  // include compiling the boundary's pipelines).
  if (!force) last_snapshot_seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (inside_request.enabled()) {
    // The other half of the visual share.
    const double inside_seconds = last_inside ? last_inside->seconds : 0;
    const double inside_interval =
        std::max(watch.inside_interval, inside_seconds * 2 / std::max(watch.visual_share, 1e-3));
    const bool due = force || !last_inside || inside_request != last_inside_request ||
                     Clock::now() - last_inside_time >= std::chrono::duration<double>(inside_interval);
    if (due) {
      try {
        last_inside = ComputeInside(snapshot->parameters);
      } catch (const std::exception& e) {
        // The views are a luxury: their failure must not stop the training.
        ForgetInsideProbes();
        inside_failed = true;
        ReportError(std::string("The inside views are off: ") + e.what());
      }
      last_inside_request = inside_request;
      last_inside_time = Clock::now();
    }
    snapshot->inside = last_inside;
  }
  last_snapshot = Clock::now();
  snapshot->seconds = std::chrono::duration<double>(last_snapshot - start).count();
  SessionEvent event = Event(SessionEvent::Kind::kSnapshot);
  event.snapshot = std::move(snapshot);
  Emit(std::move(event));
}

TrainingSession::TrainingSession(vk::Context& context, vk::PipelineCache& pipelines, vk::ContextOptions replica_options)
    : worker_(std::make_unique<Worker>(context, pipelines, timing_gate_, std::move(replica_options))) {}

TrainingSession::~TrainingSession() {
  {
    std::lock_guard lock(worker_->mutex);
    worker_->quit = true;
  }
  worker_->wake.notify_one();
  worker_->thread.join();  // the worker checks `quit` between submissions
}

uint64_t TrainingSession::Load(SessionSetup setup) {
  const uint64_t run = ++runs_;
  worker_->Post(LoadCommand{std::move(setup), run});
  return run;
}
void TrainingSession::Start() { worker_->Post(StartCommand{}); }
void TrainingSession::Pause() { worker_->Post(PauseCommand{}); }
void TrainingSession::Step() { worker_->Post(StepCommand{}); }
void TrainingSession::Stop() { worker_->Post(StopCommand{}); }
uint64_t TrainingSession::Reset() {
  const uint64_t run = ++runs_;
  worker_->Post(ResetCommand{run});
  return run;
}
uint64_t TrainingSession::Unload() {
  const uint64_t run = ++runs_;
  worker_->Post(UnloadCommand{run});
  return run;
}
void TrainingSession::SetConfig(const TrainConfig& config) { worker_->PostReplacing(SetConfigCommand{config}); }
void TrainingSession::SetLearningRate(double learning_rate) { worker_->Post(SetLearningRateCommand{learning_rate}); }
void TrainingSession::SetOptimizer(kernels::OptimizerKind optimizer) { worker_->Post(SetOptimizerCommand{optimizer}); }
void TrainingSession::SetBatchSize(uint32_t batch_size) { worker_->Post(SetBatchSizeCommand{batch_size}); }
void TrainingSession::SetForcedVariant(ForcedVariant variant) { worker_->Post(SetForcedVariantCommand{variant}); }
void TrainingSession::SaveCheckpoint(const std::string& path) { worker_->Post(SaveCheckpointCommand{path}); }
void TrainingSession::SetInsideViews(const InsideRequest& request) { worker_->PostReplacing(SetInsideCommand{request}); }
void TrainingSession::SetWatch(const WatchSettings& watch) { worker_->PostReplacing(SetWatchCommand{watch}); }
void TrainingSession::SetEventNotifier(std::function<void()> notify) {
  std::lock_guard lock(worker_->mutex);
  worker_->notify = std::move(notify);
}

void TimingGate::FrameBegin(std::chrono::milliseconds patience) {
  std::unique_lock lock(mutex_);
  changed_.wait_for(lock, patience, [&] { return !closed_; });
  frame_active_ = true;
}

void TimingGate::FrameEnd() {
  {
    std::lock_guard lock(mutex_);
    frame_active_ = false;
  }
  changed_.notify_all();
}

bool TimingGate::Close(std::chrono::milliseconds patience) {
  std::unique_lock lock(mutex_);
  closed_ = true;
  return changed_.wait_for(lock, patience, [&] { return !frame_active_; });
}

void TimingGate::Open() {
  {
    std::lock_guard lock(mutex_);
    closed_ = false;
  }
  changed_.notify_all();
}
void TrainingSession::PredictInput(std::shared_ptr<const data::Dataset> samples, uint64_t request) {
  worker_->PostReplacing(PredictInputCommand{std::move(samples), request});
}

void TrainingSession::RequestSample(const SampleRequest& request) { worker_->PostReplacing(SampleCommand{request}); }
void TrainingSession::RequestAttention(const AttentionRequest& request) {
  worker_->PostReplacing(AttentionCommand{request});
}

void TrainingSession::RequestProfile() { worker_->PostReplacing(ProfileCommand{}); }
void TrainingSession::RequestTrace() { worker_->Post(TraceCommand{}); }
void TrainingSession::MeasureCeilings(bool remeasure) { worker_->PostReplacing(CeilingsCommand{remeasure}); }
void TrainingSession::RunExperiment(const profile::ExperimentRequest& request) {
  worker_->Post(ExperimentCommand{request});
}

std::vector<SessionEvent> TrainingSession::Poll() {
  std::vector<SessionEvent> events;
  std::lock_guard lock(worker_->mutex);
  events.swap(worker_->events);
  return events;
}

SessionState TrainingSession::state() const {
  std::lock_guard lock(worker_->mutex);
  return worker_->published_state;
}

std::vector<DispatchInfo> TrainingSession::step_dispatches() const {
  std::lock_guard lock(worker_->mutex);
  return worker_->published_dispatches;
}

}  // namespace ts::nn
