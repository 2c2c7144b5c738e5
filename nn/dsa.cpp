// DSA strategy parsing and parameter draws (see dsa.h). The group of a call comes from stream 0 of the
// call's key and sample i's parameters from stream 1 + i (stream 1 for every sample when Siamese), so a
// sample's parameters do not depend on the batch size or on the other samples.
#include "nn/dsa.h"

#include <cmath>
#include <numbers>

#include "kernels/counter_rng.h"
#include "kernels/error.h"

namespace sp::dsa {

namespace {

constexpr uint64_t kDsaPurpose = 0xD5A0D5A0ull;

struct GroupName {
  const char* name;
  Group group;
};
constexpr GroupName kGroups[] = {{"color", Group::color}, {"crop", Group::crop},   {"cutout", Group::cutout},
                                 {"flip", Group::flip},   {"scale", Group::scale}, {"rotate", Group::rotate}};

// Python's int(size * ratio + 0.5) for the non-negative values used here (truncation = floor).
int32_t rounded_size(int64_t size, double ratio) { return int32_t(std::floor(double(size) * ratio + 0.5)); }

// One sample's parameters of group g, appended to d, drawn from its own stream.
void draw_sample(AugDraw& d, Group g, const DsaParams& p, crng::Stream32& r) {
  switch (g) {
    case Group::color:
      d.brightness.push_back((r.uniform_d() - 0.5) * p.brightness);
      d.saturation.push_back(r.uniform_d() * p.saturation);
      d.contrast.push_back(r.uniform_d() + p.contrast);
      break;
    case Group::crop: {
      const int32_t sy = rounded_size(d.h, p.ratio_crop_pad), sx = rounded_size(d.w, p.ratio_crop_pad);
      d.shift_y.push_back(int32_t(r.below(uint32_t(2 * sy + 1))) - sy);
      d.shift_x.push_back(int32_t(r.below(uint32_t(2 * sx + 1))) - sx);
      break;
    }
    case Group::cutout:
      // Upstream: randint(0, size + (1 - cut % 2)), i.e. 0..size for an even side, 0..size-1 for an odd one.
      d.cut_y.push_back(int32_t(r.below(uint32_t(d.h + (1 - d.cut_h % 2)))));
      d.cut_x.push_back(int32_t(r.below(uint32_t(d.w + (1 - d.cut_w % 2)))));
      break;
    case Group::flip:
      d.flip.push_back(r.uniform_d() < p.prob_flip ? 1 : 0);
      break;
    case Group::scale: {
      const double lo = 1.0 / p.ratio_scale, span = p.ratio_scale - lo;
      d.scale_x.push_back(r.uniform_d() * span + lo);
      d.scale_y.push_back(r.uniform_d() * span + lo);
      break;
    }
    case Group::rotate:
      d.angle.push_back((r.uniform_d() - 0.5) * 2.0 * p.ratio_rotate / 180.0 * std::numbers::pi);
      break;
  }
}

// Repeats the first entry of v n times (Siamese: every sample gets sample 0's value).
template <class T>
void share_first(std::vector<T>& v, int64_t n) {
  if (!v.empty()) v.assign(size_t(n), v.front());
}

}  // namespace

const char* group_name(Group g) {
  for (const GroupName& k : kGroups)
    if (k.group == g) return k.name;
  return "?";
}

std::vector<Group> parse_strategy(const std::string& strategy) {
  std::vector<Group> out;
  if (strategy.empty() || strategy == "none" || strategy == "None") return out;
  size_t begin = 0;
  while (true) {
    const size_t end = strategy.find('_', begin);
    const std::string token = strategy.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
    bool found = false;
    for (const GroupName& k : kGroups)
      if (token == k.name) {
        out.push_back(k.group);
        found = true;
      }
    SP_CHECK(found, "DSA strategy '", strategy, "': unknown augmentation '", token,
             "' (known: color, crop, cutout, flip, scale, rotate, separated by '_')");
    if (end == std::string::npos) break;
    begin = end + 1;
  }
  return out;
}

AugDraw draw(const std::vector<Group>& strategy, const DsaParams& p, int64_t n, int64_t h, int64_t w, uint64_t seed,
             uint64_t counter, bool siamese) {
  SP_CHECK(n >= 0 && h >= 1 && w >= 1, "dsa::draw: batch ", n, " of ", h, "x", w, " images is invalid");
  SP_CHECK(p.ratio_scale >= 1.0 && p.prob_flip >= 0 && p.ratio_crop_pad >= 0 && p.ratio_cutout >= 0,
           "dsa::draw: parameters out of range (ratio_scale ", p.ratio_scale, " >= 1, prob_flip ", p.prob_flip,
           ", ratio_crop_pad ", p.ratio_crop_pad, ", ratio_cutout ", p.ratio_cutout, " >= 0)");
  AugDraw d;
  d.n = n, d.h = h, d.w = w;
  if (strategy.empty()) {
    d.identity = true;
    return d;
  }
  const uint64_t key = crng::mix64(crng::derive_key(seed, kDsaPurpose) ^ crng::mix64(counter));
  crng::Stream32 pick(key, 0);
  d.group = strategy[pick.below(uint32_t(strategy.size()))];
  d.cut_h = rounded_size(h, p.ratio_cutout);
  d.cut_w = rounded_size(w, p.ratio_cutout);
  const int64_t distinct = siamese ? std::min<int64_t>(n, 1) : n;
  for (int64_t i = 0; i < distinct; ++i) {
    crng::Stream32 r(key, uint64_t(1 + i));
    draw_sample(d, d.group, p, r);
  }
  if (siamese) {
    for (auto* v : {&d.brightness, &d.saturation, &d.contrast, &d.scale_x, &d.scale_y, &d.angle}) share_first(*v, n);
    for (auto* v : {&d.shift_y, &d.shift_x, &d.cut_y, &d.cut_x, &d.flip}) share_first(*v, n);
  }
  return d;
}

std::vector<double> affine_theta(const AugDraw& d) {
  SP_CHECK(!d.identity && (d.group == Group::scale || d.group == Group::rotate),
           "dsa::affine_theta: the draw's group is ", d.identity ? "none" : group_name(d.group),
           ", not scale or rotate");
  std::vector<double> th(size_t(d.n) * 6, 0.0);
  for (int64_t i = 0; i < d.n; ++i) {
    double* m = th.data() + i * 6;
    if (d.group == Group::scale) {
      m[0] = d.scale_x[size_t(i)];
      m[4] = d.scale_y[size_t(i)];
    } else {
      const double a = d.angle[size_t(i)];
      m[0] = std::cos(a), m[1] = -std::sin(a);
      m[3] = std::sin(a), m[4] = std::cos(a);
    }
  }
  return th;
}

}  // namespace sp::dsa
