// Forgetting events (Toneva et al., "An Empirical Study of Example Forgetting during Deep Neural Network
// Learning", ICLR 2019): while the selection model trains, every presentation of a sample in a training
// batch is classified right or wrong (training-mode logits of the augmented batch, as DeepCore records
// them); a forgetting event is a right -> wrong transition between consecutive presentations. Samples with
// the most events are kept first; samples never classified right in any presentation count as the most
// forgettable (+inf), as in Toneva et al. Tested on hand-built sequences of correctness flags in
// tests/test_coreset_select.cpp, and end to end in tests/test_coreset_shadow.cpp.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace sp::coreset {

class ForgettingCounter {
 public:
  explicit ForgettingCounter(int64_t n);
  // One presentation of sample i (a position in the private set).
  void record(int64_t i, bool correct);
  // Rows of logits [b, C] of samples ids[r] with their labels: records argmax == label for each.
  void record_logits(const std::vector<int64_t>& ids, const std::vector<float>& logits, int64_t C,
                     const std::vector<int64_t>& labels);
  int64_t events(int64_t i) const { return events_[std::size_t(i)]; }
  bool learned(int64_t i) const { return learned_[std::size_t(i)] != 0; }
  int64_t presentations(int64_t i) const { return presented_[std::size_t(i)]; }
  // events, or +inf for never-learned samples.
  std::vector<double> scores() const;

 private:
  std::vector<int64_t> events_, presented_;
  std::vector<uint8_t> last_, learned_;
};

}  // namespace sp::coreset
