// sp_accountant: privacy accounting for DP-SGD from the command line (paradigms/dpsgd/accountant_cli.h). Given
// the sample rate q, noise multiplier sigma, step count T and delta it prints epsilon as JSON; with
// --target-epsilon instead of --noise-multiplier it prints the calibrated noise multiplier. Bad input exits
// with 1 and a message naming the option. Tested end to end by tests/test_accountant_cli.cpp.
#include <iostream>

#include "paradigms/dpsgd/accountant_cli.h"

int main(int argc, char** argv) { return sp::dpsgd::accountant_main(argc, argv, std::cout, std::cerr); }
