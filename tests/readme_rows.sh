# Sourced by cli_bad_input.sh and cli_faults.sh (needs $T and $S): the
# README's "Hostile input" table is the record of what each refused input
# prints, so every case that passes adds its row here and the script fails
# when README.md does not hold that row verbatim (a changed message must be
# changed in the README too).  HN_TABLE_OUT=FILE appends the rows to FILE,
# which is how the table is (re)generated:
#   HN_TABLE_OUT=rows.md sh tests/cli_bad_input.sh; HN_TABLE_OUT=rows.md sh tests/cli_faults.sh
# The temporary folder is written DIR.

# row NAME MESSAGE
row() {
    printf '| %s | `%s` |\n' "$1" "$(printf '%s' "$2" | sed "s|$T/|DIR/|g")" >> "$T/rows"
}

# check_rows: prints one line per missing row; returns the count
check_rows() {
    missing=0
    [ -f "$T/rows" ] || return 0
    if [ -n "${HN_TABLE_OUT:-}" ]; then cat "$T/rows" >> "$HN_TABLE_OUT"; fi
    while IFS= read -r r; do
        if ! grep -qxF -- "$r" "$S/README.md"; then
            printf 'FAIL README.md has no row  %s\n' "$r"
            missing=$((missing + 1))
        fi
    done < "$T/rows"
    return $missing
}
