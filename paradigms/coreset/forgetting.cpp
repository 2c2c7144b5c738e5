// Forgetting-event counting (see forgetting.h). Tested in tests/test_coreset_select.cpp.
#include "paradigms/coreset/forgetting.h"

#include <algorithm>
#include <limits>

#include "kernels/error.h"

namespace sp::coreset {

ForgettingCounter::ForgettingCounter(int64_t n)
    : events_(size_t(n), 0), presented_(size_t(n), 0), last_(size_t(n), 0), learned_(size_t(n), 0) {}

void ForgettingCounter::record(int64_t i, bool correct) {
  SP_CHECK(i >= 0 && i < int64_t(events_.size()), "forgetting: sample ", i, " outside ", events_.size());
  if (last_[size_t(i)] && !correct) ++events_[size_t(i)];
  last_[size_t(i)] = correct;
  learned_[size_t(i)] |= uint8_t(correct);
  ++presented_[size_t(i)];
}

void ForgettingCounter::record_logits(const std::vector<int64_t>& ids, const std::vector<float>& logits, int64_t C,
                                      const std::vector<int64_t>& labels) {
  SP_CHECK(C > 0 && logits.size() == ids.size() * size_t(C), "forgetting: ", logits.size(), " logits for ", ids.size(),
           " samples of ", C, " classes");
  for (size_t r = 0; r < ids.size(); ++r) {
    const float* z = &logits[r * size_t(C)];
    int64_t i = ids[r];
    SP_CHECK(i >= 0 && i < int64_t(labels.size()), "forgetting: sample ", i, " has no label");
    record(i, std::max_element(z, z + C) - z == labels[size_t(i)]);
  }
}

std::vector<double> ForgettingCounter::scores() const {
  std::vector<double> s(events_.size());
  for (size_t i = 0; i < s.size(); ++i)
    s[i] = learned_[i] ? double(events_[i]) : std::numeric_limits<double>::infinity();
  return s;
}

}  // namespace sp::coreset
