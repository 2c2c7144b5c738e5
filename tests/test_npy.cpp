// .npy reader/writer: round trips for every dtype, 0-d/empty/version-2 headers, element ranges, integer
// widening, corrupt and unsupported files rejected with the path in the message, writer atomicity, and
// interoperability with numpy itself (skipped with a reason when python3/numpy is unavailable).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "data/atomic_file.h"
#include "data/npy.h"
#include "tests/lira_test_util.h"

using namespace sp;
using sp::test::TempDir;

namespace {

template <class T>
void round_trip(const TempDir& d, const std::vector<T>& v, std::vector<int64_t> shape) {
  std::string p = d / "a.npy";
  npy::write(p, shape, v);
  npy::Reader r(p);
  EXPECT_EQ(r.dtype(), dtype_v<T>);
  EXPECT_EQ(r.shape(), shape);
  EXPECT_EQ(r.header().version, 1);
  EXPECT_EQ(r.header().data_offset % 64, 0u);
  EXPECT_EQ(r.read_all<T>(), v);
}

// Raw file: magic, version, 2-byte length, dict, then `data_bytes` zero bytes.
std::string raw_npy(const std::string& dict, size_t data_bytes, int major = 1, int minor = 0) {
  std::string h("\x93NUMPY", 6);
  h += char(major);
  h += char(minor);
  std::string d = dict + "\n";
  h += char(d.size() & 0xff);
  h += char(d.size() >> 8);
  return h + d + std::string(data_bytes, '\0');
}

void expect_rejected(const TempDir& d, const std::string& bytes, const std::string& needle) {
  std::string p = d / "bad.npy";
  sp::test::write_text(p, bytes);
  try {
    npy::Reader r(p);
    ADD_FAILURE() << "accepted a bad file; expected an error containing '" << needle << "'";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find(p), std::string::npos) << "message does not name the file: " << msg;
    EXPECT_NE(msg.find(needle), std::string::npos) << "message lacks '" << needle << "': " << msg;
  }
}

bool have_numpy(std::string* why) {
  auto r = sp::test::run_command("/usr/bin/python3 -c 'import numpy'");
  if (r.exit_code != 0) *why = "python3 with numpy is not available: " + r.output;
  return r.exit_code == 0;
}

}  // namespace

TEST(Npy, RoundTripEveryDtype) {
  TempDir d;
  round_trip<uint8_t>(d, {0, 7, 255}, {3});
  round_trip<int32_t>(d, {-2147483647 - 1, 0, 5, 2147483647}, {2, 2});
  round_trip<int64_t>(d, {-(int64_t(1) << 62), 3, int64_t(1) << 40}, {3, 1});
  round_trip<float>(d, {1.5f, -0.0f, 3.25e-20f, 7e30f, -1.0f, 2.0f}, {1, 2, 3});
  round_trip<double>(d, {M_PI, -1e-300, 1e300, 0.1}, {4});
  std::vector<uint8_t> mask{1, 0, 1, 1};
  npy::write_bool(d / "b.npy", std::vector<int64_t>{2, 2}, mask);
  npy::Reader rb(d / "b.npy");
  EXPECT_EQ(rb.dtype(), DType::boolean);
  EXPECT_EQ(rb.read_integers(), (std::vector<int64_t>{1, 0, 1, 1}));
  // f16 through the Tensor helpers.
  Tensor h = Tensor::from_vector<float>({0.5f, -2.0f, 65504.0f}, {3}).to(DType::f16);
  npy::save(d / "h.npy", h);
  Tensor back = npy::load(d / "h.npy");
  EXPECT_EQ(back.dtype(), DType::f16);
  EXPECT_EQ(back.to(DType::f32).to_vector<float>(), (std::vector<float>{0.5f, -2.0f, 65504.0f}));
}

TEST(Npy, TensorSaveLoadAndBadDtype) {
  TempDir d;
  Tensor t = Tensor::from_vector<double>({1, 2, 3, 4, 5, 6}, {2, 3}).transpose(0, 1);  // non-contiguous view
  npy::save(d / "t.npy", t);
  Tensor u = npy::load(d / "t.npy");
  EXPECT_EQ(u.shape(), (Shape{3, 2}));
  EXPECT_EQ(u.to_vector<double>(), (std::vector<double>{1, 4, 2, 5, 3, 6}));
  EXPECT_THROW(npy::save(d / "bf.npy", Tensor::zeros({2}, DType::bf16)), Error);
  EXPECT_FALSE(std::filesystem::exists(d / "bf.npy"));
}

TEST(Npy, ZeroDimensionalAndEmptyArrays) {
  TempDir d;
  npy::write(d / "s.npy", std::vector<int64_t>{}, std::vector<double>{2.5});
  npy::Reader s(d / "s.npy");
  EXPECT_TRUE(s.shape().empty());
  EXPECT_EQ(s.numel(), 1);
  EXPECT_EQ(s.read_all<double>(), std::vector<double>{2.5});
  npy::write(d / "e.npy", std::vector<int64_t>{3, 0, 2}, std::vector<float>{});
  npy::Reader e(d / "e.npy");
  EXPECT_EQ(e.numel(), 0);
  EXPECT_EQ(e.shape(), (std::vector<int64_t>{3, 0, 2}));
  EXPECT_TRUE(e.read_all<float>().empty());
}

TEST(Npy, ShapeStrings) {
  EXPECT_EQ(npy::shape_str(std::vector<int64_t>{}), "()");
  EXPECT_EQ(npy::shape_str(std::vector<int64_t>{3}), "(3,)");
  EXPECT_EQ(npy::shape_str(std::vector<int64_t>{3, 4}), "(3, 4)");
}

TEST(Npy, ExactHeaderBytes) {
  TempDir d;
  npy::write(d / "x.npy", std::vector<int64_t>{2, 3}, std::vector<float>(6, 0.f));
  std::string b = sp::test::read_text(d / "x.npy");
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  // 10 + 59 + 1 bytes round up to 128, as numpy pads them.
  ASSERT_EQ(b.size(), 128u + 24u);
  EXPECT_EQ(b.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  EXPECT_EQ(uint8_t(b[8]) | uint8_t(b[9]) << 8, 118);
  EXPECT_EQ(b.substr(10, dict.size()), dict);
  EXPECT_EQ(b[127], '\n');
  EXPECT_EQ(b.substr(10 + dict.size(), 127 - 10 - dict.size()), std::string(127 - 10 - dict.size(), ' '));
}

TEST(Npy, Version2HeaderWhenTheDictIsLarge) {
  TempDir d;
  std::vector<int64_t> shape(25000, 1);  // the dict needs > 65535 bytes
  shape[0] = 2;
  npy::write(d / "v2.npy", shape, std::vector<int32_t>{4, 5});
  npy::Reader r(d / "v2.npy");
  EXPECT_EQ(r.header().version, 2);
  EXPECT_EQ(r.header().data_offset % 64, 0u);
  EXPECT_EQ(r.shape(), shape);
  EXPECT_EQ(r.read_all<int32_t>(), (std::vector<int32_t>{4, 5}));
  EXPECT_THROW(npy::load(d / "v2.npy"), Error);  // too many dimensions for a Tensor, named in the message
}

TEST(Npy, ElementRangesAndIntegerWidening) {
  TempDir d;
  std::vector<float> v(100);
  for (size_t i = 0; i < v.size(); ++i) v[i] = float(i);
  npy::write(d / "r.npy", std::vector<int64_t>{10, 10}, v);
  npy::Reader r(d / "r.npy");
  std::vector<float> part(7);
  r.read(part.data(), 42, 7);
  EXPECT_EQ(part, std::vector<float>(v.begin() + 42, v.begin() + 49));
  EXPECT_THROW(r.read(part.data(), 95, 7), Error);
  EXPECT_THROW(r.read(part.data(), -1, 1), Error);
  EXPECT_THROW(r.read_all<double>(), Error);  // no silent conversion
  EXPECT_THROW(r.read_integers(), Error);     // floats are not integers
  npy::write(d / "i.npy", std::vector<int64_t>{3}, std::vector<int32_t>{-1, 0, 9});
  EXPECT_EQ(npy::Reader(d / "i.npy").read_integers(), (std::vector<int64_t>{-1, 0, 9}));
  npy::write(d / "u.npy", std::vector<int64_t>{2}, std::vector<uint8_t>{200, 3});
  EXPECT_EQ(npy::Reader(d / "u.npy").read_integers(), (std::vector<int64_t>{200, 3}));
  // A bool byte other than 0/1 is corrupt.
  sp::test::write_text(d / "b.npy", raw_npy("{'descr': '|b1', 'fortran_order': False, 'shape': (2,), }", 0) + std::string("\x01\x02", 2));
  EXPECT_THROW(npy::Reader(d / "b.npy").read_integers(), Error);
  // Labels: integers only; a bool array (a mask in the wrong file) is refused, naming the file.
  EXPECT_EQ(npy::Reader(d / "i.npy").read_labels(), (std::vector<int64_t>{-1, 0, 9}));
  npy::write_bool(d / "mask.npy", std::vector<int64_t>{2}, std::vector<uint8_t>{1, 0});
  try {
    npy::Reader(d / "mask.npy").read_labels();
    ADD_FAILURE() << "bool labels accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("mask.npy"), std::string::npos) << e.what();
  }
  EXPECT_THROW(npy::Reader(d / "r.npy").read_labels(), Error);
}

TEST(Npy, CorruptHeadersAreRejected) {
  TempDir d;
  const std::string ok = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
  sp::test::write_text(d / "good.npy", raw_npy(ok, 8));
  EXPECT_NO_THROW(npy::Reader r(d / "good.npy"));
  expect_rejected(d, "", "not a .npy file");
  expect_rejected(d, "\x93NUMP", "not a .npy file");
  expect_rejected(d, "PK\x03\x04 this is a zip file", "bad magic");
  expect_rejected(d, raw_npy(ok, 8, 4, 0), "unsupported .npy format version 4.0");
  expect_rejected(d, raw_npy(ok, 8, 1, 1), "unsupported .npy format version 1.1");
  std::string truncated_header = raw_npy(ok, 0).substr(0, 30);
  expect_rejected(d, truncated_header, "truncated .npy header");
  expect_rejected(d, raw_npy("'descr': '<f4', 'fortran_order': False, 'shape': (2,)", 8), "expected '{'");
  expect_rejected(d, raw_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), ", 8), "expected a quoted string");
  expect_rejected(d, raw_npy("{'descr': '<f4', 'shape': (2,), }", 8), "needs the keys");
  expect_rejected(d, raw_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'extra': 1, }", 8), "unexpected key 'extra'");
  expect_rejected(d, raw_npy("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 8), "duplicate key");
  expect_rejected(d, raw_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2), }", 8), "is not a tuple");
  expect_rejected(d, raw_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", 8), "non-negative integer");
  expect_rejected(d, raw_npy("{'descr': '<f4', 'fortran_order': 0, 'shape': (2,), }", 8), "True or False");
  expect_rejected(d, raw_npy("{'descr': '<f4, 'fortran_order': False, 'shape': (2,), }", 8), "invalid .npy header");
  expect_rejected(d, raw_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), } x", 8), "trailing characters");
  expect_rejected(d, raw_npy("{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }", 16), "unsupported .npy dtype '<c8'");
  expect_rejected(d, raw_npy("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", 8), "big-endian");
  expect_rejected(d, raw_npy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", 8), "structured dtypes");
  expect_rejected(d, raw_npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }", 8), "Fortran-order");
  expect_rejected(d, raw_npy(ok, 7), "truncated");
  expect_rejected(d, raw_npy(ok, 9), "trailing bytes");
  expect_rejected(d, raw_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (1000000, 1000000), }", 8),
                  "does not match");
  expect_rejected(d, raw_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999, 99999999999), }", 8),
                  "too many elements");
  try {
    npy::Reader r(d / "missing.npy");
    ADD_FAILURE() << "opened a missing file";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot open '" + (d / "missing.npy") + "'"), std::string::npos) << e.what();
  }
}

TEST(Npy, WriterIsAtomic) {
  TempDir d;
  auto only_entries = [&] {
    std::vector<std::string> v;
    for (const auto& e : std::filesystem::directory_iterator(d.path())) v.push_back(e.path().filename().string());
    return v;
  };
  {
    npy::Writer w(d / "w.npy", DType::i64, std::vector<int64_t>{3});
    int64_t x[2] = {1, 2};
    w.append(x, 2);
    EXPECT_THROW(w.commit(), Error);  // one element short
  }
  EXPECT_TRUE(only_entries().empty());
  {
    npy::Writer w(d / "w.npy", DType::i64, std::vector<int64_t>{1});
    int64_t x[2] = {1, 2};
    EXPECT_THROW(w.append(x, 2), Error);  // more than numel
  }  // destroyed uncommitted: the temporary goes away
  EXPECT_TRUE(only_entries().empty());
  // Overwriting replaces the old file only on commit.
  npy::write(d / "w.npy", std::vector<int64_t>{1}, std::vector<int64_t>{7});
  {
    npy::Writer w(d / "w.npy", DType::i64, std::vector<int64_t>{1});
    EXPECT_EQ(npy::Reader(d / "w.npy").read_all<int64_t>(), std::vector<int64_t>{7});
    int64_t x = 8;
    w.append(&x, 1);
    w.commit();
  }
  EXPECT_EQ(npy::Reader(d / "w.npy").read_all<int64_t>(), std::vector<int64_t>{8});
  EXPECT_EQ(only_entries(), std::vector<std::string>{"w.npy"});
  EXPECT_THROW(npy::write(d / "no/such/dir/x.npy", std::vector<int64_t>{1}, std::vector<int64_t>{1}), Error);

  write_file_atomic(d / "f.txt", "hello");
  write_file_atomic(d / "f.txt", "bye");
  EXPECT_EQ(sp::test::read_text(d / "f.txt"), "bye");
  EXPECT_THROW(write_file_atomic(d / "no/such/dir/f.txt", "x"), Error);
}

TEST(Npy, NumpyReadsOursAndWeReadNumpys) {
  std::string why;
  if (!have_numpy(&why)) GTEST_SKIP() << why;
  TempDir d;
  npy::write(d / "f4.npy", std::vector<int64_t>{2, 3}, std::vector<float>{1, 2, 3, 4, 5, 6.5f});
  npy::write(d / "i8.npy", std::vector<int64_t>{3}, std::vector<int64_t>{-5, 0, int64_t(1) << 40});
  npy::write_bool(d / "b1.npy", std::vector<int64_t>{3}, std::vector<uint8_t>{1, 0, 1});
  npy::write(d / "s.npy", std::vector<int64_t>{}, std::vector<double>{0.25});
  std::vector<int64_t> big(25000, 1);
  npy::write(d / "v2.npy", big, std::vector<uint8_t>{9});
  std::string py =
      "import numpy as np, sys\n"
      "d = sys.argv[1]\n"
      "a = np.load(d + '/f4.npy'); assert a.dtype == np.float32 and a.shape == (2, 3), a\n"
      "assert (a == np.array([[1, 2, 3], [4, 5, 6.5]], np.float32)).all()\n"
      "b = np.load(d + '/i8.npy'); assert b.dtype == np.int64 and list(b) == [-5, 0, 1 << 40]\n"
      "c = np.load(d + '/b1.npy'); assert c.dtype == np.bool_ and list(c) == [True, False, True]\n"
      "s = np.load(d + '/s.npy'); assert s.shape == () and s == 0.25\n"
      "with open(d + '/v2.npy', 'rb') as f:  # numpy arrays cannot have 25000 dims; check the header only\n"
      "    assert np.lib.format.read_magic(f) == (2, 0)\n"
      "    shape, fortran, dtype = np.lib.format.read_array_header_2_0(f, max_header_size=200000)\n"
      "    assert len(shape) == 25000 and not fortran and dtype == np.uint8\n"
      "np.save(d + '/np_f8.npy', np.arange(6, dtype=np.float64).reshape(3, 2) / 4)\n"
      "np.save(d + '/np_f2.npy', np.array([1.5, -2], np.float16))\n"
      "np.save(d + '/np_b.npy', np.array([[True, False]]))\n"
      "np.save(d + '/np_i4.npy', np.array([7, -7], np.int32))\n"
      "with open(d + '/np_v2.npy', 'wb') as f:\n"
      "    np.lib.format.write_array(f, np.arange(4, dtype=np.int64), version=(2, 0))\n"
      "np.save(d + '/np_fortran.npy', np.asfortranarray(np.ones((2, 3), np.float32)))\n"
      "np.save(d + '/np_big.npy', np.ones(3, dtype='>f4'))\n"
      "np.save(d + '/np_c.npy', np.ones(3, dtype=np.complex64))\n";
  sp::test::write_text(d / "check.py", py);
  auto r = sp::test::run_command("/usr/bin/python3 " + (d / "check.py") + " " + d.path());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  npy::Reader f8(d / "np_f8.npy");
  EXPECT_EQ(f8.shape(), (std::vector<int64_t>{3, 2}));
  EXPECT_EQ(f8.read_all<double>(), (std::vector<double>{0, 0.25, 0.5, 0.75, 1, 1.25}));
  Tensor f2 = npy::load(d / "np_f2.npy");
  EXPECT_EQ(f2.to(DType::f32).to_vector<float>(), (std::vector<float>{1.5f, -2.f}));
  npy::Reader b(d / "np_b.npy");
  EXPECT_EQ(b.dtype(), DType::boolean);
  EXPECT_EQ(b.read_integers(), (std::vector<int64_t>{1, 0}));
  EXPECT_EQ(npy::Reader(d / "np_i4.npy").read_all<int32_t>(), (std::vector<int32_t>{7, -7}));
  npy::Reader v2(d / "np_v2.npy");
  EXPECT_EQ(v2.header().version, 2);
  EXPECT_EQ(v2.read_all<int64_t>(), (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_THROW(npy::Reader(d / "np_fortran.npy"), Error);
  EXPECT_THROW(npy::Reader(d / "np_big.npy"), Error);
  EXPECT_THROW(npy::Reader(d / "np_c.npy"), Error);
}
