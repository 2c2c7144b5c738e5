// GradCover: the element ranges [begin, end) of a gradient buffer that hold a gradient, kept sorted,
// disjoint and merged. Tape::grad keeps one per root that views alias, so a view's first contribution
// overwrites an uninitialised buffer (beta 0) and only ranges no contribution reached are zero-filled, just
// before they are read or accumulated into. A root has tens to hundreds of views, so a sorted vector with a
// linear merge is plenty. Tested in tests/test_tape_grad_buffers.cpp.
#pragma once
#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

namespace sp {

class GradCover {
 public:
  bool empty() const { return runs_.empty(); }
  void clear() { runs_.clear(); }
  const std::vector<std::pair<int64_t, int64_t>>& runs() const { return runs_; }

  // Does some written range share an element with [b, e)?
  bool overlaps(int64_t b, int64_t e) const {
    for (const auto& [rb, re] : runs_)
      if (rb < e && b < re) return true;
    return false;
  }
  bool covers(int64_t b, int64_t e) const {
    for (const auto& [rb, re] : runs_)
      if (rb <= b && e <= re) return true;
    return b >= e;
  }
  // Calls f(gb, ge) for each maximal part of [b, e) that no written range covers, in order.
  template <class F>
  void for_each_gap(int64_t b, int64_t e, F&& f) const {
    int64_t at = b;
    for (const auto& [rb, re] : runs_) {
      if (re <= at) continue;
      if (rb >= e) break;
      if (rb > at) f(at, rb);
      at = re;
      if (at >= e) return;
    }
    if (at < e) f(at, e);
  }
  // Marks [b, e) written, merging it with the ranges it overlaps or touches.
  void insert(int64_t b, int64_t e) {
    if (b >= e) return;
    std::vector<std::pair<int64_t, int64_t>> out;
    out.reserve(runs_.size() + 1);
    bool placed = false;
    for (const auto& r : runs_) {
      if (r.second < b) {
        out.push_back(r);
      } else if (e < r.first) {
        if (!placed) out.push_back({b, e});
        placed = true;
        out.push_back(r);
      } else {  // overlaps or touches: absorb
        b = std::min(b, r.first);
        e = std::max(e, r.second);
      }
    }
    if (!placed) out.push_back({b, e});
    runs_ = std::move(out);
  }

 private:
  std::vector<std::pair<int64_t, int64_t>> runs_;
};

}  // namespace sp
