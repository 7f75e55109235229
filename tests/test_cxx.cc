// hessnorm from C++: the umbrella header compiles as C++ and the hn_*
// names link unmangled (the extern "C" guards of include/hessnorm/).
#include "hessnorm.h"
#include <cstdio>
#include <cstring>

int main()
{
    hn_err e;
    hn_err_clear(&e);
    hn_gsl_quiet();
    hn_model *m = nullptr;
    int rc = hn_model_load(HN_SRCDIR "/fixtures/example/model.json", &m, &e);
    if (rc != HN_OK) {
        std::fprintf(stderr, "test_cxx: hn_model_load: %s (%s)\n", e.msg, hn_strerror(rc));
        return 1;
    }
    std::printf("test_cxx: loaded the example model from C++: %zu parameters\n", m->n_params);
    hn_model_free(m);
    return 0;
}
