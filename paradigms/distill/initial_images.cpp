// Initial synthetic images (see initial_images.h).
#include "paradigms/distill/initial_images.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "data/image_folder.h"
#include "data/sources.h"
#include "kernels/counter_rng.h"
#include "kernels/error.h"
#include "paradigms/distill/class_pool.h"

namespace sp::distill {

namespace {
constexpr uint64_t kPurposePick = 0x4449504943ULL;   // "DIPIC"
constexpr uint64_t kPurposeNoise = 0x44494e4f49ULL;  // "DINOI"


void normalise_into(float* dst, const uint8_t* src, int64_t c, int64_t hw, const data::Normalization& norm) {
  for (int64_t ch = 0; ch < c; ++ch)
    for (int64_t p = 0; p < hw; ++p)
      dst[ch * hw + p] = float((double(src[ch * hw + p]) / 255.0 - norm.mean[size_t(ch)]) / norm.std[size_t(ch)]);
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}
}  // namespace

data::Dataset load_ood_set(const std::string& spec, const data::Dataset& train, int64_t ipc) {
  const std::string how =
      " (give a dataset spec folder:DIR with DIR/train/<class>/*.png; for CIFAR-10, extract "
      "../shared/data/cinic10-imagenet-ood.tar.gz and give folder:<extracted>/cinic10-imagenet-ood)";
  data::DatasetSpec ds = data::parse_dataset_spec(spec);
  if (!ds.path.empty())
    SP_CHECK(std::filesystem::exists(ds.path), "distill.ood_data: ", spec, ": ", ds.path, " does not exist", how);
  data::Dataset ood;
  try {
    // An initialisation pool needs no test split (CINIC-10's published sample has none).
    ood = ds.kind == "folder" ? data::load_image_folder_split(ds.path, "train") : data::load_dataset(ds).train;
  } catch (const Error& e) {
    throw Error(std::string("distill.ood_data: ") + e.what() + how);
  }
  SP_CHECK(ood.classes == train.classes, "distill.ood_data: ", spec, " has the classes [", join(ood.classes),
           "] but the experiment's dataset has [", join(train.classes),
           "]: an out-of-distribution initialisation needs images of the same classes in the same order");
  SP_CHECK(ood.channels() == train.channels() && ood.height() == train.height() && ood.width() == train.width(),
           "distill.ood_data: ", spec, " holds ", ood.channels(), "x", ood.height(), "x", ood.width(),
           " images, the dataset ", train.channels(), "x", train.height(), "x", train.width());
  std::vector<int64_t> counts = ood.class_counts();
  for (size_t c = 0; c < counts.size(); ++c)
    SP_CHECK(counts[c] >= ipc, "distill.ipc: ", ipc, " images per class, but class ", c, " (", ood.classes[c], ") of ",
             spec, " has only ", counts[c], " images; lower ipc or give a larger out-of-distribution set");
  return ood;
}

void check_real_init(const data::TrainingSet& ts, int64_t classes, int64_t ipc, int k) {
  std::vector<int64_t> counts(size_t(classes), 0);
  for (int64_t y : ts.labels) ++counts[size_t(y)];
  for (int64_t c = 0; c < classes; ++c)
    SP_CHECK(counts[size_t(c)] >= ipc, "distill.ipc: ", ipc, " images per class, but class ", c, " of shadow ", k,
             "'s private set has only ", counts[size_t(c)], " images (init real draws ipc distinct images of each class)");
}

InitialImages initial_images(const DistillConfig& cfg, const data::Dataset& train, const data::TrainingSet& ts,
                             const data::AuditSet& audit, const data::Dataset* ood, int64_t classes,
                             const data::Normalization& norm, uint64_t key) {
  const int64_t C = train.channels(), H = train.height(), W = train.width(), n = classes * cfg.ipc, per = C * H * W;
  InitialImages out;
  out.images = Tensor::empty({n, C, H, W}, DType::f32);
  float* px = out.images.data<float>();
  out.source.assign(size_t(n), -1);
  const uint64_t pick_key = crng::derive_key(key, kPurposePick);
  if (cfg.init == Init::noise) {
    for (int64_t i = 0; i < n; ++i) {
      crng::Stream32 r(crng::derive_key(key, kPurposeNoise), uint64_t(i));
      for (int64_t p = 0; p < per; p += 2) {  // Box-Muller: two normals per pair of uniforms
        const double u1 = 1.0 - r.uniform_d(), u2 = r.uniform_d(), rad = std::sqrt(-2.0 * std::log(u1));
        px[i * per + p] = float(rad * std::cos(2 * M_PI * u2));
        if (p + 1 < per) px[i * per + p + 1] = float(rad * std::sin(2 * M_PI * u2));
      }
    }
    return out;
  }
  const data::Dataset& src = cfg.init == Init::real ? train : *ood;
  SP_CHECK(cfg.init == Init::real || ood, "initial_images: init ood without an OOD set");
  std::vector<std::vector<int64_t>> by_class(static_cast<size_t>(classes));
  if (cfg.init == Init::real) {
    for (size_t i = 0; i < ts.indices.size(); ++i) by_class[size_t(ts.labels[i])].push_back(ts.indices[i]);
  } else {
    for (int64_t i = 0; i < src.size(); ++i) by_class[size_t(src.label(i))].push_back(i);
  }
  for (int64_t c = 0; c < classes; ++c) {
    SP_CHECK(int64_t(by_class[size_t(c)].size()) >= cfg.ipc, "distill.ipc: ", cfg.ipc, " images per class, but class ",
             c, " has only ", by_class[size_t(c)].size(), " ", cfg.init == Init::real ? "private" : "out-of-distribution",
             " images");
    std::vector<int64_t> chosen = random_prefix(by_class[size_t(c)], cfg.ipc, pick_key, uint64_t(c));
    for (int64_t j = 0; j < cfg.ipc; ++j) {
      const int64_t row = c * cfg.ipc + j;
      out.source[size_t(row)] = chosen[size_t(j)];
      normalise_into(px + row * per, src.image(chosen[size_t(j)]), C, H * W, norm);
    }
  }
  if (cfg.init == Init::real) {
    for (int64_t j = 0; j < audit.size(); ++j)
      if (std::find(out.source.begin(), out.source.end(), audit.indices[size_t(j)]) != out.source.end())
        out.audit_used.push_back(j);
  }
  return out;
}

}  // namespace sp::distill
