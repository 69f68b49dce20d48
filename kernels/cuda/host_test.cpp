// Host driver for the CUDA arithmetic: compiles field.cuh, curve.cuh, ntt.cu and msm.cu with a
// plain C++ compiler and runs their __host__ __device__ code on the CPU, one emulated thread at a
// time, so tests/test_cuda_host.py can check it against Python ints without a GPU.
//
// Protocol: one command per line on stdin, numbers in hex, field elements and coordinates
// canonical (the driver converts to and from Montgomery form itself); one answer line per command.
//
//   fr|fq add|sub|mul a b     fr|fq neg|sqr|inv|mont|unmont a     fr|fq reduced a
//   g1 add x1 y1 x2 y2  (XYZZ + XYZZ)      g1 madd x1 y1 x2 y2  (XYZZ + affine)
//   g1 dbl x y          g1 smul x y k      g1 oncurve x y
//   ntt log_n omega pre_base post_c post_base passes (lo t g)×passes columns a_0 … a_(cols·n−1)
//   msm n montgomery c windows chunk0 chunk seg_len x_0 y_0 … k_0 …
//
// Points are answered as "x y" in affine form, (0, 0) for infinity.

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "msm.cu"
#include "ntt.cu"

using namespace zk;


template <class F>
static F parse_raw(const std::string& hex) {
    F r = F::zero();
    int limb = 0, shift = 0;
    for (int i = (int)hex.size() - 1; i >= 0 && limb < 4; --i) {
        char ch = hex[i];
        u64 v = (ch >= '0' && ch <= '9') ? ch - '0' : (ch >= 'a' && ch <= 'f') ? ch - 'a' + 10 : ch - 'A' + 10;
        r.l[limb] |= v << shift;
        shift += 4;
        if (shift == 64) { shift = 0; ++limb; }
    }
    return r;
}

template <class F>
static std::string hex_raw(const F& a) {
    char buf[80];
    std::snprintf(buf, sizeof buf, "%016llx%016llx%016llx%016llx", a.l[3], a.l[2], a.l[1], a.l[0]);
    return buf;
}

template <class F>
static F read_elem(std::istream& in) {
    std::string s;
    in >> s;
    return to_montgomery(parse_raw<F>(s));
}

template <class F>
static std::string out_elem(const F& a) { return hex_raw(from_montgomery(a)); }

static G1Affine read_point(std::istream& in) {
    G1Affine p;
    p.x = read_elem<Fq>(in);
    p.y = read_elem<Fq>(in);
    return p;
}

static std::string out_point(const G1Affine& p) { return out_elem(p.x) + " " + out_elem(p.y); }

template <class F>
static std::string field_command(const std::string& op, std::istream& in) {
    if (op == "reduced") {
        std::string s;
        in >> s;
        return parse_raw<F>(s).is_reduced() ? "1" : "0";
    }
    if (op == "mont") {
        std::string s;
        in >> s;
        return hex_raw(to_montgomery(parse_raw<F>(s)));
    }
    if (op == "unmont") {
        std::string s;
        in >> s;
        return hex_raw(from_montgomery(parse_raw<F>(s)));
    }
    F a = read_elem<F>(in);
    if (op == "neg") return out_elem(-a);
    if (op == "sqr") return out_elem(sqr(a));
    if (op == "inv") return out_elem(inverse(a));
    F b = read_elem<F>(in);
    if (op == "add") return out_elem(a + b);
    if (op == "sub") return out_elem(a - b);
    if (op == "mul") return out_elem(a * b);
    return "error unknown field op " + op;
}

static std::string g1_command(const std::string& op, std::istream& in) {
    if (op == "add" || op == "madd") {
        G1Affine p = read_point(in), q = read_point(in);
        G1Xyzz s = op == "add" ? add(G1Xyzz::from_affine(p), G1Xyzz::from_affine(q))
                               : add_mixed(G1Xyzz::from_affine(p), q);
        return out_point(to_affine(s));
    }
    if (op == "dbl") return out_point(to_affine(dbl(G1Xyzz::from_affine(read_point(in)))));
    if (op == "oncurve") return read_point(in).on_curve() ? "1" : "0";
    if (op == "smul") {
        G1Affine p = read_point(in);
        std::string s;
        in >> s;
        Fr k = parse_raw<Fr>(s);
        return out_point(to_affine(scalar_mul(p, k.l, 4)));
    }
    return "error unknown g1 op " + op;
}

// c·base^i for i < count through the kernel's bit-product formula.
static std::vector<u64> powers(const Fr& base, const Fr& c, u64 count) {
    std::vector<u64> table(4 * 64), out(4 * count);
    Fr b = base;
    for (int j = 0; j < 64; ++j) { b.store(&table[4 * j]); b = sqr(b); }
    std::vector<u64> cc(4);
    c.store(cc.data());
    for (u64 i = 0; i < count; ++i) powers_element(i, table.data(), cc.data(), out.data());
    return out;
}

static std::string ntt_command(std::istream& in) {
    u32 log_n;
    in >> log_n;
    const u64 n = 1ull << log_n;
    Fr omega = read_elem<Fr>(in), pre_base = read_elem<Fr>(in), post_c = read_elem<Fr>(in),
       post_base = read_elem<Fr>(in);
    int npasses;
    in >> npasses;
    std::vector<u32> lo(npasses), t(npasses), g(npasses);
    for (int p = 0; p < npasses; ++p) in >> lo[p] >> t[p] >> g[p];
    u64 cols;
    in >> cols;
    std::vector<u64> a(4 * cols * n), tmp(4 * cols * n), out(4 * cols * n);
    for (u64 i = 0; i < cols * n; ++i) read_elem<Fr>(in).store(&a[4 * i]);

    std::vector<u64> tw = powers(omega, Fr::one(), n / 2 ? n / 2 : 1);
    if (!pre_base.is_zero()) {
        std::vector<u64> table = powers(pre_base, Fr::one(), n);
        for (u64 i = 0; i < cols * n; ++i)
            (Fr::load(&a[4 * i]) * Fr::load(&table[4 * (i & (n - 1))])).store(&a[4 * i]);
    }
    std::vector<u64> scale_table;
    if (!post_c.is_zero()) scale_table = powers(post_base, post_c, n);
    tmp = a;
    std::vector<u64> sh(8u << ZK_NTT_MAX_LOG_BLOCK);  // elements, then the pass's twiddles
    for (int p = 0; p < npasses; ++p) {
        const bool last = p == npasses - 1;
        u64 blocks = n >> (t[p] + g[p]);
        for (u64 c = 0; c < cols; ++c)
            for (u64 b = 0; b < blocks; ++b)
                ntt_pass_block(b, 0, 1, &tmp[4 * c * n], last ? &out[4 * c * n] : &tmp[4 * c * n], sh.data(),
                               tw.data(), log_n, lo[p], t[p], g[p], last,
                               last && !scale_table.empty() ? scale_table.data() : nullptr, nullptr);
    }
    std::string r;
    for (u64 i = 0; i < cols * n; ++i) r += (i ? " " : "") + out_elem(Fr::load(&out[4 * i]));
    return r;
}

// The GPU backend's MSM pipeline (kernels/gpu/msm.py) with std::stable_sort standing in for the
// device radix sort.
static std::string msm_command(std::istream& in) {
    u64 n;
    int montgomery;
    u32 c, windows, chunk0, chunk, seg_len;
    in >> n >> montgomery >> c >> windows >> chunk0 >> chunk >> seg_len;
    std::vector<u64> points(8 * n), scalars(4 * n), canonical(4 * n);
    std::vector<u32> bits(n);
    for (u64 i = 0; i < n; ++i) read_point(in).store(&points[8 * i]);
    for (u64 i = 0; i < n; ++i) {
        std::string s;
        in >> s;
        Fr k = parse_raw<Fr>(s);
        (montgomery ? to_montgomery(k) : k).store(&scalars[4 * i]);
    }
    for (u64 i = 0; i < n; ++i) msm_prepare_scalar(i, scalars.data(), montgomery, canonical.data(), bits.data());

    const u64 pairs = windows * n;
    const u32 B = 1u << (c - 1);
    std::vector<u32> keys(pairs);
    std::vector<i32> digits(pairs);
    for (u64 i = 0; i < n; ++i) msm_digits_scalar(i, canonical.data(), n, c, windows, keys.data(), digits.data());
    std::vector<u32> perm(pairs);
    for (u64 i = 0; i < pairs; ++i) perm[i] = (u32)i;
    std::stable_sort(perm.begin(), perm.end(), [&](u32 x, u32 y) { return keys[x] < keys[y]; });
    std::vector<u32> sorted(pairs);
    u64 m = 0;
    for (u64 i = 0; i < pairs; ++i) {
        sorted[i] = keys[perm[i]];
        if (sorted[i] != ZK_MSM_EMPTY) ++m;
    }

    std::vector<u64> buckets(16 * (u64)windows * B, 0x5a5a5a5a5a5a5a5aull);  // never read unless filled
    std::vector<unsigned char> filled((u64)windows * B, 0);
    u64 chunks = (m + chunk0 - 1) / chunk0;
    std::vector<u32> level_keys(2 * chunks + 2);
    std::vector<u64> level_values(16 * (2 * chunks + 2));
    for (u64 t = 0; t < chunks; ++t)
        msm_accumulate_chunk<true>(t, chunk0, m, sorted.data(), perm.data(), digits.data(), points.data(), n,
                                   nullptr, buckets.data(), filled.data(), level_keys.data(), level_values.data());
    int levels = 1;
    while (chunks > 1) {
        u64 lm = 2 * chunks;
        chunks = (lm + chunk - 1) / chunk;
        std::vector<u32> next_keys(2 * chunks);
        std::vector<u64> next_values(16 * 2 * chunks);
        for (u64 t = 0; t < chunks; ++t)
            msm_accumulate_chunk<false>(t, chunk, lm, level_keys.data(), nullptr, nullptr, nullptr, 1,
                                        level_values.data(), buckets.data(), filled.data(), next_keys.data(),
                                        next_values.data());
        level_keys.swap(next_keys);
        level_values.swap(next_values);
        ++levels;
    }

    const u64 segs = B / seg_len;
    std::vector<u64> seg(16 * windows * segs);
    for (u64 t = 0; t < windows * segs; ++t) msm_bucket_segment(t, buckets.data(), filled.data(), B, seg_len, seg.data());
    // The device sums the segments with a block tree and the host combines the windows; here
    // both run sequentially on the same point formulas.
    G1Xyzz acc = G1Xyzz::infinity();
    for (int w = (int)windows - 1; w >= 0; --w) {
        for (u32 b = 0; b < c; ++b) acc = dbl(acc);
        for (u64 s = 0; s < segs; ++s) acc = add(acc, G1Xyzz::load(&seg[16 * (w * segs + s)]));
    }
    std::vector<u64> out(8);
    to_affine(acc).store(out.data());
    u32 max_bits = 0;
    for (u64 i = 0; i < n; ++i) max_bits = std::max(max_bits, bits[i]);
    return out_point(G1Affine::load(out.data())) + " " + std::to_string(max_bits) + " " + std::to_string(levels);
}

int main() {
    std::ios::sync_with_stdio(false);
    std::string line;
    while (std::getline(std::cin, line)) {
        if (line.empty()) continue;
        std::istringstream in(line);
        std::string kind, op;
        in >> kind;
        std::string answer;
        if (kind == "fr" || kind == "fq") {
            in >> op;
            answer = kind == "fr" ? field_command<Fr>(op, in) : field_command<Fq>(op, in);
        } else if (kind == "g1") {
            in >> op;
            answer = g1_command(op, in);
        } else if (kind == "ntt") {
            answer = ntt_command(in);
        } else if (kind == "msm") {
            answer = msm_command(in);
        } else {
            answer = "error unknown command " + kind;
        }
        std::cout << answer << "\n";
    }
    return 0;
}
