# bash completion for hessnorm -*- shell-script -*-
# Installed as $(datadir)/bash-completion/completions/hessnorm.bash, which
# bash-completion loads on the first <TAB> after "hessnorm".  The options
# of each command are those of its --help (tests/cli_habits.sh checks that
# the two lists are equal).

_hessnorm()
{
    local cur prev cmd opts
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD - 1]}
    if [ "$COMP_CWORD" -eq 1 ]; then
        COMPREPLY=($(compgen -W "audit inspect experiment help --help -h --version" -- "$cur"))
        return
    fi
    cmd=${COMP_WORDS[1]}
    case $cmd in
    --version)
        if [ "$COMP_CWORD" -eq 2 ]; then
            COMPREPLY=($(compgen -W "--verbose" -- "$cur"))
        fi
        return ;;
    audit)
        opts="--out --seed --budget --claims --random --adversarial --nm-iterations --trained --sweep-draws --no-figures
              --list --json --model --weights --sample --weights-star --dense --matrix-free
              --threads --help" ;;
    inspect)
        opts="--model --weights --sample --json --dump --example --write-example --threads --dense
              --matrix-free --help" ;;
    experiment)
        opts="--dataset --sweep --preset --out --data --seed --threads --limit --epochs --shuffles
              --hess-samples --mem-limit --no-figures --shard --time-limit --report-only --help" ;;
    help)
        if [ "$COMP_CWORD" -eq 2 ]; then
            COMPREPLY=($(compgen -W "audit inspect experiment" -- "$cur"))
        fi
        return ;;
    *) return ;;
    esac
    case $prev in
    --dataset) COMPREPLY=($(compgen -W "mnist fashion-mnist cifar10 all" -- "$cur")); return ;;
    --sweep) COMPREPLY=($(compgen -W "layers kernel channels pooling all" -- "$cur")); return ;;
    --preset) COMPREPLY=($(compgen -W "quick paper tiny" -- "$cur")); return ;;
    --model)
        compopt -o filenames 2> /dev/null
        COMPREPLY=($(compgen -f -X '!*.json' -- "$cur") $(compgen -d -- "$cur")); return ;;
    --weights | --sample | --weights-star)
        compopt -o filenames 2> /dev/null
        COMPREPLY=($(compgen -f -X '!*.safetensors' -- "$cur") $(compgen -d -- "$cur")); return ;;
    --data)
        compopt -o filenames 2> /dev/null
        COMPREPLY=($(compgen -f -- "$cur")); return ;;
    --out | --dump | --write-example)
        compopt -o filenames 2> /dev/null
        COMPREPLY=($(compgen -d -- "$cur")); return ;;
    --claims)
        # a comma-separated list: complete its last id from the registry
        local head=${cur%"${cur##*,}"} ids
        ids=$("${COMP_WORDS[0]}" audit --list 2> /dev/null | awk '{ print $1 }')
        COMPREPLY=($(compgen -P "$head" -W "$ids" -- "${cur##*,}")); return ;;
    --seed | --budget | --random | --adversarial | --nm-iterations | --trained | --sweep-draws | --threads | --limit | --epochs | \
        --shuffles | --hess-samples | --mem-limit | --shard | --time-limit)
        return ;;
    esac
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
}
complete -F _hessnorm hessnorm
