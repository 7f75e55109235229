/* hessnorm — the one seed derivation of every random stream (audit and
 * experiment).
 *
 * A stream is named by the run's seed, a label and an index:
 *   h = FNV-1a(label) (64-bit), x = mix(mix(seed) ^ h), x = mix(x ^ index),
 *   stream seed = (x ^ (x >> 32)) mod 2^32,
 * with mix the splitmix64 finaliser.  The result depends on (seed, label,
 * index) only, so a network's or a model's draws never depend on which
 * others ran before it, and mt19937 (which takes 32 bits) gets all of it.
 * Labels in use: the experiment's setting names ("L3_k3_C6", ...) and
 * "data" with the stream numbers 1..6 of experiment/internal.h; the
 * audit's "audit/random", "audit/adversarial" and "audit/structured"
 * (the group-scale draws; index = the network's number),
 * "audit/structured-fixed" with the fixed seed 0 (the deterministic
 * structured constructions: the same at every run seed) and "audit/sweep/<sweep>" (index = point * draws + draw). */
#ifndef HESSNORM_SEED_H
#define HESSNORM_SEED_H
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* FNV-1a 64 of a NUL-terminated string (the labels, the shard keys, the
 * experiment's checkpoint tags): h = (h ^ byte) * 1099511628211 mod 2^64
 * from h = 1469598103934665603.  That start is the standard offset basis
 * 14695981039346656037 with its last digit dropped; it is kept, because
 * every seed, shard and audit draw of hessnorm derives from it (test_base
 * pins the values), so this is FNV-1a's construction, not its published
 * test vectors. */
uint64_t hn_fnv1a64(const char *s);
/* The splitmix64 finaliser (a bijection of 64-bit words). */
uint64_t hn_seed_mix64(uint64_t x);
/* The seed of stream (label, index) of a run seeded with `seed`. */
unsigned long hn_seed_derive(unsigned long seed, const char *label, uint64_t index);

#ifdef __cplusplus
}
#endif

#endif
