// hessnorm example from C++: the same library, unmangled through the
// headers' extern "C" guards.
//
//   c++ tightness_cxx.cc $(pkg-config --cflags --libs hessnorm) -o tightness_cxx
//   ./tightness_cxx model.json weights.safetensors sample.safetensors
#include <cstdio>
#include <memory>
#include <vector>
#include "hessnorm.h"

int main(int argc, char **argv)
{
    if (argc != 4) {
        std::fprintf(stderr, "usage: %s MODEL.json WEIGHTS.safetensors SAMPLE.safetensors\n", argv[0]);
        return 2;
    }
    hn_gsl_quiet();
    hn_err e;
    hn_err_clear(&e);
    hn_model *raw = nullptr;
    if (hn_model_load(argv[1], &raw, &e) != HN_OK) {
        std::fprintf(stderr, "tightness_cxx: %s\n", e.msg);
        return 1;
    }
    std::unique_ptr<hn_model, void (*)(hn_model *)> m(raw, hn_model_free);
    std::vector<double> theta(m->n_params);
    hn_samples *s = nullptr;
    if (hn_weights_load(m.get(), argv[2], theta.data(), &e) != HN_OK ||
        hn_samples_load(m.get(), argv[3], &s, &e) != HN_OK) {
        std::fprintf(stderr, "tightness_cxx: %s\n", e.msg);
        return 1;
    }
    std::unique_ptr<hn_samples, void (*)(hn_samples *)> samples(s, hn_samples_free);
    std::vector<hn_claim_instance> ci(hn_claims_count());
    size_t n = 0;
    if (hn_audit_one(m.get(), theta.data(), s, "theorem2,lemma2.corrected,lemma5.corrected", ci.data(), ci.size(), &n,
                     &e) != HN_OK) {
        std::fprintf(stderr, "tightness_cxx: %s\n", e.msg);
        return 1;
    }
    for (size_t i = 0; i < n; i++)
        std::printf("%-22s %s\n", ci[i].claim->id,
                    ci[i].applicable ? (ci[i].violated ? "VIOLATED" : "holds") : hn_na_reason_text(ci[i].na));
    return 0;
}
