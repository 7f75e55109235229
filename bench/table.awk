# Side-by-side table of `make bench`: images/s of hessnorm and PyTorch.
function val(s, key,   i, n, kv) {
    n = split(s, kv, " ")
    for (i = 1; i <= n; i++) if (index(kv[i], key "=") == 1) return substr(kv[i], length(key) + 2)
    return "-"
}
$1 == "blas" { blas[++nb] = substr($0, 6) }
$1 == "hessnorm" { hn[$2] = $0; order[++n] = $2 }
$1 == "pytorch" { pt[$2] = $0 }
END {
    if (nb) printf "\n"
    for (i = 1; i <= nb; i++) print blas[i]
    printf "\n%-22s %12s %12s %12s %12s %14s\n", "images/s (float64)", "train hn", "train torch",
        "losses hn", "losses torch", "torch 1-by-1"
    for (i = 1; i <= n; i++) {
        s = order[i]
        printf "%-22s %12s %12s %12s %12s %14s\n", s, val(hn[s], "train_img_per_s"),
            val(pt[s], "train_img_per_s"), val(hn[s], "eval_img_per_s"),
            val(pt[s], "eval_img_per_s"), val(pt[s], "eval_loop_img_per_s")
    }
    if (!length(pt)) print "(PyTorch not found: python3 -c 'import torch' fails; peer skipped)"
}
