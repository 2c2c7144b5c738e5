// Assembling the experiment's [S, M] group file (see shadow_groups.h).
#include "paradigms/engine/shadow_groups.h"

#include <algorithm>
#include <filesystem>

#include "data/experiment.h"
#include "data/npy.h"
#include "kernels/counter_rng.h"
#include "kernels/error.h"

namespace fs = std::filesystem;

namespace sp {

namespace {
// The coin's purpose key (named after the first paradigm that used it; changing it would change every
// existing group file).
constexpr uint64_t kPurposeCoin = 0x434f524553434fULL;  // "CORESCO"
}  // namespace

std::vector<int64_t> shadow_groups(const data::AuditSet& audit, const data::Membership& m, int k,
                                   const std::vector<int64_t>& first, const std::string& what) {
  std::vector<int64_t> g(size_t(audit.size()));
  for (int64_t j = 0; j < audit.size(); ++j) {
    const bool chosen = std::binary_search(first.begin(), first.end(), audit.indices[size_t(j)]);
    SP_CHECK(!chosen || m.in(k, j), what, " of model ", k, " contains audit sample ", audit.indices[size_t(j)],
             ", which is OUT for it");
    g[size_t(j)] = !m.in(k, j) ? kGroupOut : chosen ? kGroupFirst : kGroupSecond;
  }
  return g;
}

GroupArray experiment_groups(const std::string& dir) {
  data::Experiment exp = data::open_experiment(dir);
  const int S = exp.config.num_models;
  const int64_t M = exp.audit.size();
  GroupArray out;
  out.S = S;
  out.M = M;
  out.values.resize(size_t(int64_t(S) * M));
  const uint64_t coin = crng::derive_key(exp.config.seed, kPurposeCoin);
  for (int k = 0; k < S; ++k) {
    const std::string path = exp.shadow_dir(k) + "/groups.npy";
    SP_CHECK(fs::exists(path), path, ": missing (shadow ", k, " has not been prepared yet; run sp_train for it)");
    npy::Reader r(path);
    SP_CHECK(r.shape() == std::vector<int64_t>{M}, path, ": expected shape (", M, ",), got ", npy::shape_str(r.shape()));
    std::vector<int64_t> g = r.read_integers();
    crng::Stream32 rng(coin, uint64_t(k));
    for (int64_t j = 0; j < M; ++j) {
      const int64_t v = g[size_t(j)];
      SP_CHECK(v == kGroupOut || v == kGroupFirst || v == kGroupSecond, path, ": value ", v, " at ", j, " is not 0, 1 or 2");
      SP_CHECK((v == kGroupOut) == !exp.membership.in(k, j), path, ": sample ", j, " is ", v == kGroupOut ? "OUT" : "IN",
               " here but ", exp.membership.in(k, j) ? "IN" : "OUT", " in keep.npy");
      const bool heads = (rng.next_u32() & 1u) != 0;  // drawn for every pair, so the coin does not depend on g
      out.values[size_t(int64_t(k) * M + j)] = v != kGroupOut ? v : (heads ? kGroupFirst : kGroupSecond);
    }
  }
  return out;
}

GroupArray write_experiment_groups(const std::string& dir, const std::string& path) {
  GroupArray g = experiment_groups(dir);
  npy::write(path, std::vector<int64_t>{g.S, g.M}, g.values);
  return g;
}

std::string write_groups_when_complete(const std::string& dir, int num_shadows, const std::string& file_name) {
  for (int k = 0; k < num_shadows; ++k)
    if (!fs::exists(dir + "/shadow/" + std::to_string(k) + "/groups.npy")) return "";
  const std::string path = dir + "/" + file_name;
  write_experiment_groups(dir, path);
  return path;
}

}  // namespace sp
