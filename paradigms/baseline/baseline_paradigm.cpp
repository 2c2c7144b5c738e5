// Paradigm "baseline": the undefended model. Each shadow trains on its whole private set with the recipe's
// hard-label cross-entropy; no configuration section, no outputs beyond the engine's. The smallest complete
// paradigm (docs/architecture.md, "How to add a paradigm"). Tested by the tests it declares below.
#include "paradigms/paradigm.h"

namespace sp {
namespace {

class Baseline final : public Paradigm {
 public:
  std::string name() const override { return "baseline"; }
  std::string description() const override { return "the undefended model, trained on its whole private set"; }
  ParadigmTests tests() const override {
    return {"Config.ShippedSmallConfigParses", "SpTrain.EndToEndOutputsSkipQueryAllAndLira",
            "ParadigmReports.BaselineSectionStatesTheSetting", "configs/small_cpu.json"};
  }
  std::unique_ptr<ShadowJob> prepare_shadow(const ExperimentRun&, int, data::TrainingSet&, Stream&,
                                            ProgressPrinter*) const override {
    return std::make_unique<ShadowJob>();  // the engine's defaults: the private set, the trainer's step
  }
  void report_section(audit::ReportDoc& d, const ojson&) const override {
    d.heading("Training");
    d.paragraph("Undefended baseline: every model trains on its whole private set (the non-audit samples and its "
                "IN audit samples) with the recipe's cross-entropy; no defence against membership inference.");
  }
};

SP_REGISTER_PARADIGM(Baseline);

}  // namespace
}  // namespace sp
