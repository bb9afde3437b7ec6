#pragma once
// Every failure ternspec reports is one of these; the message names the file, tensor or limit at fault,
// so the command-line tool can print it as a single line and exit 1.
#include <stdexcept>
#include <string>

namespace ternspec {

class Error : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// A model, tokenizer or checkpoint file that cannot be read as what it claims to be.
class FormatError : public Error {
  public:
    using Error::Error;
};

// A request the model cannot serve: a prompt past the context, a token id out of range, bad options.
class InputError : public Error {
  public:
    using Error::Error;
};

}  // namespace ternspec
