// `ternspec distill`: a drafter for the user's own model. The runtime runs the target over a corpus and
// writes what the head learns from (ternspec/distill.hpp); train/distill_eagle.py trains and exports the head
// with PyTorch. This file only parses the options, checks that each piece is there, and runs the two steps
// with their progress. Only the public API is used.
#include <spawn.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "ternspec/distill.hpp"
#include "ternspec/ternspec.hpp"
#include "tools/ternspec/args.hpp"
#include "tools/ternspec/commands.hpp"

extern char** environ;

namespace ternspec::cli {
namespace {

// The command's options, parsed once.
struct DistillCommand {
    std::string model, out, work, python, train_dir, init_from;
    DistillFeatureOptions features;
    int steps = 2000, threads = 0, batch = 12, draft_vocab = 2048;
    std::string device, drafter;
    bool ternary = true;
    int depth = 3;  // --draft mtp: modules
};

std::string default_train_dir() {
    if (const char* env = std::getenv("TERNSPEC_TRAIN_DIR")) return env;
    return TERNSPEC_TRAIN_DIR;
}

DistillCommand parse(const Args& args) {
    DistillCommand c;
    c.model = args.str("model");
    c.out = args.str("out");
    c.drafter = args.str("draft");
    if (c.drafter != "eagle" && c.drafter != "mtp")
        throw InputError("--draft " + c.drafter + ": distill trains eagle heads or mtp sidecars");
    c.features.drafter = c.drafter;
    if (c.drafter == "mtp") {
        for (const char* o : {"layers", "init-from", "no-ternary"})
            if (args.has(o)) throw InputError(std::string("--") + o + " is for --draft eagle");
        c.depth = static_cast<int>(args.integer("mtp-depth", 1, 8));
    } else if (args.has("mtp-depth")) {
        throw InputError("--mtp-depth is for --draft mtp");
    }
    c.features.corpus = args.all("corpus");
    if (c.features.corpus.empty()) throw InputError("--corpus FILE: at least one text file");
    for (const auto& f : c.features.corpus)
        if (!std::filesystem::is_regular_file(f)) throw InputError("--corpus " + f + ": no such file");
    c.work = args.has("work") ? args.str("work") : c.out + ".features";
    c.features.out_dir = c.work;
    c.features.tokens = args.integer("tokens", 1, std::numeric_limits<std::int32_t>::max());
    c.features.window = static_cast<int>(args.integer("window", 8, 1 << 20));
    c.features.top_k = static_cast<int>(args.integer("top-k", 1, 64));
    if (args.has("layers"))
        for (auto l : args.int_list("layers", 0, 4096)) c.features.layers.push_back(static_cast<int>(l));
    c.steps = static_cast<int>(args.integer("steps", 1, 10000000));
    c.batch = static_cast<int>(args.integer("batch", 1, 4096));
    c.draft_vocab = static_cast<int>(args.integer("draft-vocab", 16, 1 << 20));
    c.threads = static_cast<int>(args.integer("threads", 0, 1024));
    c.device = args.str("device");
    if (c.device != "auto" && c.device != "cpu" && c.device != "cuda")
        throw InputError("--device must be auto, cpu or cuda");
    c.ternary = !args.flag("no-ternary");
    c.python = args.str("python");
    c.train_dir = default_train_dir();
    if (args.has("init-from")) c.init_from = c.features.init_from = args.str("init-from");
    return c;
}

// Runs argv; each line of its standard output goes to `on_line`; its standard error passes through.
int run(const std::vector<std::string>& argv, const std::function<void(const std::string&)>& on_line) {
    int fds[2];
    if (::pipe(fds) != 0) throw Error("distill: pipe() failed");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    std::vector<char*> cargv;
    for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
    cargv.push_back(nullptr);
    pid_t pid = 0;
    const int rc = posix_spawn(&pid, cargv[0], &fa, nullptr, cargv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    ::close(fds[1]);
    if (rc != 0) {
        ::close(fds[0]);
        throw InputError("cannot run " + argv[0] + ": " + std::strerror(rc) + " (--python)");
    }
    FILE* in = ::fdopen(fds[0], "r");
    std::string line;
    for (int ch; (ch = std::fgetc(in)) != EOF;) {
        if (ch != '\n') {
            line += static_cast<char>(ch);
            continue;
        }
        on_line(line);
        line.clear();
    }
    if (!line.empty()) on_line(line);
    std::fclose(in);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) throw Error("distill: waitpid failed");
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string clock_text(double s) {
    char b[32];
    std::snprintf(b, sizeof b, "%d:%02d", static_cast<int>(s) / 60, static_cast<int>(s) % 60);
    return b;
}

}  // namespace

int cmd_distill(int argc, char** argv) {
    Args args(
        "distill",
        "-m MODEL --corpus FILE... -o OUT [--draft eagle|mtp] [--tokens N] [--steps N] [--device D]",
        "Train a drafter for MODEL on its own predictions over a text corpus: the target runs over the\n"
        "corpus here (its hidden states, embeddings and top-k next tokens go to --work), then\n"
        "train/distill_eagle.py (an EAGLE-3 head) or train/distill_mtp.py (MTP modules) trains it ternary\n"
        "with PyTorch (Debian's python3-torch; CUDA when present) and exports it to OUT for\n"
        "--draft eagle|mtp -md OUT. Both steps resume where a stopped run left off. Format and timings:\n"
        "docs/distill.md.",
        {{"model", 'm', "PATH", "the target: GGUF file or HF folder", ""},
         {"corpus", 0, "FILE", "UTF-8 text to distil on (repeatable)", "", {}, true},
         {"out", 'o', "DIR", "the drafter's folder (config.json, model.safetensors)", ""},
         {"draft", 0, "KIND", "drafter to train: eagle (an EAGLE-3 head) or mtp (an MTP sidecar)", "eagle"},
         {"mtp-depth", 0, "D", "with --draft mtp: modules in the sidecar", "3"},
         {"tokens", 0, "N", "corpus tokens to run through the target", "200000"},
         {"steps", 0, "N", "training steps in all (a resumed run counts its earlier ones)", "2000"},
         {"window", 0, "N", "tokens per target forward (a training sequence plus unrolled steps)", "132"},
         {"layers", 0, "A,B,C", "target layers the head taps (default: --init-from's, else 2, n/2, n-3)", ""},
         {"top-k", 0, "K", "the target's next-token candidates kept per position", "8"},
         {"batch", 0, "N", "training windows per step", "12"},
         {"draft-vocab", 0, "N", "the head's output vocabulary", "2048"},
         {"work", 0, "DIR", "where the features and the training checkpoint go", "OUT.features"},
         {"device", 0, "D", "training device: auto, cpu or cuda", "auto"},
         {"no-ternary", 0, "", "train a float head (default: ternary weights, int8 activations)", ""},
         {"init-from", 0, "DIR", "start from this EAGLE-3 head folder (SpecForge, vLLM-speculators or ours)",
          ""},
         {"python", 0, "PATH", "the Python with PyTorch and NumPy", "/usr/bin/python3"},
         {"threads", 't', "N", "threads for the target and for training (0: all cores)", "0"}});
    if (!args.parse(argc, argv)) return 0;
    const DistillCommand c = parse(args);
    const std::string script = c.train_dir + (c.drafter == "mtp" ? "/distill_mtp.py" : "/distill_eagle.py");
    if (!std::filesystem::is_regular_file(script))
        throw InputError(script +
                         " not found: set TERNSPEC_TRAIN_DIR to the train/ folder of ternspec's sources");
    // The training step's pieces, checked before the target runs for minutes.
    if (run({c.python, "-c", "import torch, numpy"}, [](const std::string&) {}) != 0)
        throw InputError("PyTorch or NumPy is missing for " + c.python +
                         ": install Debian's python3-torch and python3-numpy (or give --python)");

    const int threads =
        c.threads > 0 ? c.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    const Model model = Model::load(c.model, LoadOptions{false, threads});
    DistillFeatureOptions fo = c.features;
    const bool tty = ::isatty(2) != 0;
    int last_tenth = -1;
    fo.on_progress = [&](const DistillProgress& p) {
        const double left = p.tokens_per_s > 0 ? (p.tokens_total - p.tokens_done) / p.tokens_per_s : 0;
        const int tenth = static_cast<int>(10 * p.tokens_done / std::max<std::int64_t>(1, p.tokens_total));
        if (tty)
            std::fprintf(stderr, "\r\033[Kdistill: target %lld/%lld tokens, %.0f tokens/s, ETA %s",
                         static_cast<long long>(p.tokens_done), static_cast<long long>(p.tokens_total),
                         p.tokens_per_s, clock_text(left).c_str());
        else if (tenth != last_tenth)
            spdlog::info("distill: target {}/{} tokens, {:.0f} tokens/s, ETA {}", p.tokens_done,
                         p.tokens_total, p.tokens_per_s, clock_text(left));
        last_tenth = tenth;
    };
    const auto fs = write_distill_features(model, fo);
    if (tty) std::fprintf(stderr, "\r\033[K");
    spdlog::info("distill: {} windows of {} tokens in {} ({} resumed); this run {:.0f} target tokens/s",
                 fs.windows, c.features.window, c.work, fs.resumed_windows, fs.tokens_per_s);

    std::vector<std::string> cmd = {c.python,        script,
                                    "--features",    c.work,
                                    "--out",         c.out,
                                    "--steps",       std::to_string(c.steps),
                                    "--batch",       std::to_string(c.batch),
                                    "--draft-vocab", std::to_string(c.draft_vocab),
                                    "--threads",     std::to_string(threads),
                                    "--device",      c.device};
    if (!c.ternary) cmd.push_back("--no-ternary");
    if (!c.init_from.empty()) cmd.insert(cmd.end(), {"--init-from", c.init_from});
    if (c.drafter == "mtp") cmd.insert(cmd.end(), {"--depth", std::to_string(c.depth)});
    ::setenv("OMP_WAIT_POLICY", "PASSIVE", 0);
    std::optional<nlohmann::json> done;
    int last_step_tenth = -1;
    const int rc = run(cmd, [&](const std::string& line) {
        const auto j = nlohmann::json::parse(line, nullptr, false);
        if (j.is_discarded() || !j.is_object()) {
            std::fprintf(stderr, "%s\n", line.c_str());
            return;
        }
        const std::string ev = j.value("event", "");
        if (ev == "start") {
            spdlog::info(
                "distill: training on {} ({} windows, head {} M parameters, draft vocabulary {}, from step "
                "{})",
                j.value("device", "?"), j.value("windows", 0), j.value("head_params_m", 0.0),
                j.value("draft_vocab", 0), j.value("from_step", 0));
        } else if (ev == "step") {
            const int step = j.value("step", 0), steps = j.value("steps", 1);
            const std::string text = fmt::format(
                "distill: step {}/{}, loss {:.3f}, {:.2f} steps/s, ETA {}", step, steps, j.value("loss", 0.0),
                j.value("steps_per_s", 0.0), clock_text(j.value("eta_s", 0.0)));
            if (tty) {
                std::fprintf(stderr, "\r\033[K%s", text.c_str());
            } else if (10 * step / steps != last_step_tenth) {
                spdlog::info("{}", text);
                last_step_tenth = 10 * step / steps;
            }
        } else if (ev == "done") {
            done = j;
        }
    });
    if (tty) std::fprintf(stderr, "\r\033[K");
    if (rc != 0) throw Error("training failed (" + script + " exited with " + std::to_string(rc) + ")");
    if (!done) throw Error(script + " ended without exporting a head");
    std::printf(
        "%s\n",
        nlohmann::json{{"out", c.out},
                       {"features", c.work},
                       {"target_tokens", fs.tokens},
                       {"target_tokens_per_s", fs.tokens_per_s},
                       {"steps", (*done)["steps"]},
                       {"train_minutes", (*done)["minutes"]},
                       {"held_out_top1_agreement_per_step", (*done)["held_out_top1_agreement_per_step"]},
                       {"use", "ternspec decode -m " + c.model + " --draft " + c.drafter + " -md " + c.out}}
            .dump()
            .c_str());
    return 0;
}

}  // namespace ternspec::cli
