// Paradigm: a way of training the audited models (baseline, DP-SGD, coreset, ...), registered by name as
// kernels and ops are. A paradigm is one folder (paradigms/<name>/) that composes the layers below it (the
// engine, paradigms/engine/; data; nn) and registers itself with SP_REGISTER_PARADIGM; nothing outside its
// folder and this registry compares its name. It
//   validates its configuration section (every problem at once, with key paths such as "coreset.fraction");
//   prepares shadow k and hands the engine the job that trains it (paradigms/engine/shadow_job.h);
//   adds its outputs: experiment-level files when shadows finish (group files for sp_lira), image grids,
//   its summary.json entry, its report section and its column of the comparison report;
//   declares its tests (a configuration test, a tiny end-to-end test, a report test) and its small CPU
//   configuration, which tests/test_paradigm_registry.cpp checks for every registered paradigm.
// docs/architecture.md ("How to add a paradigm") has the smallest complete example. Tested in
// tests/test_paradigm_registry.cpp.
#pragma once
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "paradigms/audit/audit_report.h"
#include "paradigms/audit/audit_summary.h"
#include "paradigms/audit/report_doc.h"
#include "paradigms/audit/shadow_scan.h"
#include "paradigms/config.h"
#include "paradigms/engine/experiment_run.h"
#include "paradigms/engine/shadow_job.h"
#include "paradigms/json_fields.h"

namespace sp {

// The gtest names (Suite.Test) of a paradigm's tests, and its small CPU configuration under configs/.
struct ParadigmTests {
  std::string config_test, end_to_end_test, report_test;
  std::string small_config;  // e.g. "configs/coreset_small_cpu.json"
};

class Paradigm : public ShadowPreparer {
 public:
  using ojson = audit::ojson;
  virtual std::string name() const = 0;
  // One line for --help texts and docs.
  virtual std::string description() const = 0;
  virtual ParadigmTests tests() const = 0;

  // Configuration sections only this paradigm reads (default: one named after it, when it has settings).
  // Another paradigm's configuration with such a section is refused.
  virtual std::vector<std::string> config_sections() const { return {}; }
  // Reads the paradigm's sections of `root` into c (typed settings in c.paradigm_settings) and their resolved
  // form into out; problems go to `errors` under their key paths. Called after the common sections.
  virtual void read_config(cfg::Fields& /*root*/, RunConfig& /*c*/, cfg::Errors& /*errors*/,
                           nlohmann::json& /*out*/) const {}

  // After the experiment is opened (its data loaded, audit set and membership fixed) and before any shadow is
  // trained or queued (sp_train, sp_audit, SLURM submission): checks that need the data, such as a
  // distillation's images per class against every private set. Throws sp::Error naming the key.
  virtual void check_experiment(const ExperimentRun& /*run*/) const {}

  // After shadow models finished (sp_train's end of run; sp_audit before the attacks): experiment-level
  // files. Returns lines to print (nothing when there is nothing new).
  virtual std::vector<std::string> finish_experiment(const std::string& /*dir*/, const RunConfig&) const {
    return {};
  }
  // The [S, M] group file for sp_lira --groups, or "" when the paradigm does not split the audit samples.
  virtual std::string lira_groups(const std::string& /*dir*/) const { return ""; }
  // The report's name of sp_lira group `key`, and a note on how the groups were formed ("" for none).
  virtual std::string group_name(const std::string& key) const { return key; }
  virtual std::string groups_note() const { return ""; }
  // Image grids of the data the models train on beyond the dataset, written under dir/images/.
  virtual std::vector<audit::ReportImage> report_images(const RunConfig&, const std::string& /*dir*/) const {
    return {};
  }
  // The paradigm's summary.json entry (under its name) from the shadows' metrics; null for none.
  virtual ojson summarize(const std::vector<audit::ShadowEntry>& /*shadows*/) const { return nullptr; }
  // The same with the experiment directory, for entries from experiment-level files (default: summarize).
  virtual ojson summarize_experiment(const std::string& /*dir*/, const std::vector<audit::ShadowEntry>& shadows) const {
    return summarize(shadows);
  }
  // Its section of the experiment report, from the experiment's summary.
  virtual void report_section(audit::ReportDoc& d, const ojson& summary) const = 0;
  // Its column in the comparison of experiments: heading ("" for none) and the cell of one summary.
  virtual std::string comparison_heading() const { return ""; }
  virtual std::string comparison_cell(const ojson& /*summary*/) const { return "-"; }
};

// Registration (static, from the paradigm's folder) and lookup.
bool register_paradigm(std::unique_ptr<Paradigm> p);
#define SP_REGISTER_PARADIGM(Class) \
  static const bool sp_paradigm_registered_##Class = ::sp::register_paradigm(std::make_unique<Class>())

// Every registered paradigm, by name.
std::vector<const Paradigm*> registered_paradigms();
std::vector<std::string> paradigm_names();
// Throws sp::Error listing the registered names when `name` is not one of them.
const Paradigm& find_paradigm(const std::string& name);
const Paradigm* find_paradigm_or_null(const std::string& name);
inline const Paradigm& paradigm_of(const RunConfig& c) { return find_paradigm(c.paradigm); }

}  // namespace sp
