// The paradigm registry (see paradigm.h).
#include "paradigms/paradigm.h"

#include <map>

namespace sp {

namespace {
std::map<std::string, std::unique_ptr<Paradigm>>& registry() {
  static std::map<std::string, std::unique_ptr<Paradigm>> r;  // constructed on first use: static init order
  return r;
}
}  // namespace

bool register_paradigm(std::unique_ptr<Paradigm> p) {
  const std::string name = p->name();
  SP_CHECK(!name.empty() && !registry().count(name), "paradigm '", name, "' registered twice or without a name");
  registry()[name] = std::move(p);
  return true;
}

std::vector<const Paradigm*> registered_paradigms() {
  std::vector<const Paradigm*> v;
  for (const auto& [name, p] : registry()) v.push_back(p.get());
  return v;
}

std::vector<std::string> paradigm_names() {
  std::vector<std::string> v;
  for (const auto& [name, p] : registry()) v.push_back(name);
  return v;
}

const Paradigm* find_paradigm_or_null(const std::string& name) {
  auto it = registry().find(name);
  return it == registry().end() ? nullptr : it->second.get();
}

const Paradigm& find_paradigm(const std::string& name) {
  const Paradigm* p = find_paradigm_or_null(name);
  if (!p) {
    std::string known;
    for (const std::string& n : paradigm_names()) known += (known.empty() ? "" : ", ") + n;
    SP_FAIL("unknown paradigm '", name, "' (known: ", known, ")");
  }
  return *p;
}

}  // namespace sp
