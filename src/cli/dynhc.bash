# bash completion for dynhc. Installed into share/bash-completion/completions;
# works with plain bash too: `source dynhc.bash`. tests/docs/check_cli_docs.py
# keeps the option lists equal to each command's --help.

_dynhc() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
    local payload="--model-type --level --config --payload --bos-token-id --marker-key
                   --no-marker --strict --explain --help"
    local sending="--url --model --timeout --header --header-file --bearer-token-file --cacert
                   --cert --key --insecure"
    local commands="resolve validate probe watch help"

    if ((COMP_CWORD == 1)); then
        mapfile -t COMPREPLY < <(compgen -W "$commands --help --version -V" -- "$cur")
        return
    fi
    case $prev in
        --model-type)
            mapfile -t COMPREPLY < <(compgen -W "generate chat embedding tokens" -- "$cur")
            return ;;
        --level)
            mapfile -t COMPREPLY < <(compgen -W "minimal standard comprehensive" -- "$cur")
            return ;;
        --config | --header-file | --bearer-token-file | --cacert | --cert | --key | --targets)
            mapfile -t COMPREPLY < <(compgen -f -- "$cur")
            return ;;
        --payload)
            # @FILE, @- for standard input, or JSON text typed by hand.
            if [[ $cur == @* ]]; then
                mapfile -t COMPREPLY < <(compgen -f -P @ -- "${cur#@}")
            fi
            return ;;
        --status-endpoints)
            mapfile -t COMPREPLY < <(compgen -W "auto all failing none" -- "$cur")
            return ;;
        --bos-token-id | --marker-key | --url | --model | --timeout | --header | --interval | \
            --host | --port | --shard | --spread | --jitter | --metrics-url | --running-metric | \
            --tokens-metric | --stall-timeout | --dns | --dns-refresh | --dns-server | --log-limit)
            return ;;
    esac
    local options
    case ${COMP_WORDS[1]} in
        resolve) options="$payload --compact" ;;
        validate) options="$payload --compact" ;;
        probe) options="$payload $sending" ;;
        watch) options="$payload $sending --interval --host --port --metrics-url
                        --running-metric --tokens-metric --stall-timeout --no-metrics --libcurl --targets
                        --shard --spread --jitter --status-endpoints --dns --dns-refresh
                        --dns-server --log-limit" ;;
        help)
            ((COMP_CWORD == 2)) && mapfile -t COMPREPLY < <(compgen -W "$commands" -- "$cur")
            return ;;
        *) return ;;
    esac
    mapfile -t COMPREPLY < <(compgen -W "$options" -- "$cur")
}
complete -F _dynhc dynhc
