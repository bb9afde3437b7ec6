#pragma once
// One function per `ternspec` subcommand; each gets the arguments after its name.
namespace ternspec::cli {

using CommandFn = int(int argc, char** argv);
CommandFn cmd_inspect, cmd_tokenize, cmd_detokenize, cmd_generate, cmd_decode, cmd_logits, cmd_perplexity,
    cmd_synth, cmd_convert, cmd_bench, cmd_serve, cmd_template, cmd_distill;

}  // namespace ternspec::cli
