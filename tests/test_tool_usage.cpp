// Every tool's answer to bad usage (README "Exit status"): an unknown option ends with status 1 and a message,
// --help with 0; never CLI11's own statuses (105 and up), which tell a script nothing more. Runs the
// built tools of build/bin, found from the sources in tools/ so that a new tool is covered without a change here.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "tests/lira_test_util.h"
#include "tests/tool_test_util.h"

namespace fs = std::filesystem;

namespace {

std::vector<std::string> tool_names() {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(std::string(SP_SOURCE_DIR) + "/tools"))
    if (e.path().extension() == ".cpp") names.push_back(e.path().stem().string());
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

TEST(ToolUsage, UnknownOptionExitsOneAndHelpExitsZero) {
  const std::vector<std::string> tools = tool_names();
  ASSERT_GE(tools.size(), 8u);
  for (const std::string& name : tools) {
    const std::string bin = sp::test::tool_path(name);
    ASSERT_TRUE(fs::exists(bin)) << bin << " is not built";
    auto r = sp::test::run_command(bin + " --no-such-option 7 </dev/null");
    EXPECT_EQ(r.exit_code, 1) << name << ":\n" << r.output;
    // The unknown option, or a missing required one CLI11 reports first, and where to read more.
    EXPECT_TRUE(r.output.find("--no-such-option") != std::string::npos || r.output.find("--help") != std::string::npos)
        << name << ":\n" << r.output;
    r = sp::test::run_command(bin + " --help </dev/null");
    EXPECT_EQ(r.exit_code, 0) << name << ":\n" << r.output;
    EXPECT_NE(r.output.find("sage"), std::string::npos) << name << " --help prints no usage:\n" << r.output;
  }
}
