#pragma once
// One function per `ternspec` subcommand; each gets the arguments after its name.
namespace ternspec::cli {

int cmd_inspect(int argc, char** argv);
int cmd_tokenize(int argc, char** argv);
int cmd_detokenize(int argc, char** argv);
int cmd_generate(int argc, char** argv);
int cmd_decode(int argc, char** argv);
int cmd_logits(int argc, char** argv);
int cmd_perplexity(int argc, char** argv);
int cmd_synth(int argc, char** argv);
int cmd_convert(int argc, char** argv);
int cmd_bench(int argc, char** argv);
int cmd_serve(int argc, char** argv);
int cmd_template(int argc, char** argv);

}  // namespace ternspec::cli
