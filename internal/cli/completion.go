package cli

import (
	"context"
	"fmt"
	"slices"
)

func completionCommand() *command {
	return &command{
		name:    "completion",
		args:    "SHELL",
		summary: "Print the TAB completion script for bash, zsh, fish or powershell",
		help: `
The script completes commands, flags, AWS profiles, tunnel names from the configuration file,
and targets (instance ids and Name tags) from the list the last 'ssmwire targets' saved in the
user cache directory. TAB reads only these local files (ssmwire __complete); it never waits on
AWS. The Linux packages and Homebrew install the scripts where the shells find them; otherwise
write or load one as below.

Examples:
  ssmwire completion bash > ~/.local/share/bash-completion/completions/ssmwire
  source <(ssmwire completion bash)                                # or this, in ~/.bashrc
  ssmwire completion zsh > "${fpath[1]}/_ssmwire"                  # then start a new shell
  ssmwire completion fish > ~/.config/fish/completions/ssmwire.fish
  ssmwire completion powershell | Out-String | Invoke-Expression   # in $PROFILE`,
		run: runCompletion,
	}
}

func runCompletion(_ context.Context, a *app, _ *cmdOptions, args []string) error {
	if len(args) != 1 {
		return usagef("completion takes one argument, the shell: bash, zsh, fish or powershell")
	}
	script, ok := completionScripts[args[0]]
	if !ok || !slices.Contains(shells, args[0]) {
		return usagef("completion: unknown shell %q (want bash, zsh, fish or powershell)", args[0])
	}
	_, err := fmt.Fprint(a.stdout, script)
	return err
}

// completionScripts are the scripts `ssmwire completion SHELL` prints. Each hands the words before the cursor
// to `ssmwire __complete` (completeCommand) and offers what it prints; the scripts hold no command or flag
// names of their own, so they cannot drift from the command table.
var completionScripts = map[string]string{
	"bash": `# bash completion for ssmwire                               -*- shell-script -*-
# Load it with: source <(ssmwire completion bash)

# _ssmwire_dequote prints a word as the shell will read it, for the quoting a partial word has: a leading
# single or double quote, or backslashes.
_ssmwire_dequote() {
	local w=$1 out= i c
	case $w in
	\'*) w=${w#\'}; printf '%s' "${w%\'}"; return ;;
	\"*) w=${w#\"}; w=${w%\"} ;;
	esac
	for ((i = 0; i < ${#w}; i++)); do
		c=${w:i:1}
		if [[ $c == \\ ]]; then
			i=$((i + 1))
			c=${w:i:1}
		fi
		out+=$c
	done
	printf '%s' "$out"
}

_ssmwire() {
	local cur words cword
	if declare -F _get_comp_words_by_ref >/dev/null 2>&1; then
		# bash-completion: keep "--flag=value" and "ecs:cluster/task" as one word.
		_get_comp_words_by_ref -n =: cur words cword
	else
		cur=${COMP_WORDS[COMP_CWORD]}
		words=("${COMP_WORDS[@]}")
		cword=$COMP_CWORD
	fi
	local -a args=()
	local i
	for ((i = 1; i <= cword; i++)); do
		args+=("$(_ssmwire_dequote "${words[i]}")")
	done
	# bash replaces only the part of the word after the last break character (COMP_WORDBREAKS).
	local keep=
	if [[ $cur == *[=:]* ]]; then
		keep=$(_ssmwire_dequote "${cur%"${cur##*[=:]}"}")
	fi
	local c
	COMPREPLY=()
	while IFS= read -r c; do
		c=${c#"$keep"}
		if [[ $c == *[^[:alnum:]_.,:=@%+/-]* ]]; then
			printf -v c %q "$c"
		fi
		COMPREPLY+=("$c")
	done < <(command ssmwire __complete "${args[@]}" 2>/dev/null)
}

complete -o default -F _ssmwire ssmwire
`,

	"zsh": `#compdef ssmwire
# zsh completion for ssmwire.
# Install it with: ssmwire completion zsh > "${fpath[1]}/_ssmwire"

_ssmwire() {
	local -a candidates
	candidates=("${(@f)$(command ssmwire __complete "${(@Q)words[2,CURRENT]}" 2>/dev/null)}")
	candidates=(${candidates:#})
	if (( ${#candidates} )); then
		compadd -- "${candidates[@]}"
	else
		_files
	fi
}

if [[ $funcstack[1] == _ssmwire ]]; then
	_ssmwire "$@"
else
	compdef _ssmwire ssmwire
fi
`,

	"fish": `# fish completion for ssmwire.
# Install it with: ssmwire completion fish > ~/.config/fish/completions/ssmwire.fish

function __ssmwire_complete
	set -l tokens (commandline -opc)
	set -e tokens[1]
	command ssmwire __complete $tokens (commandline -ct) 2>/dev/null
end

complete -c ssmwire -f -a '(__ssmwire_complete)'
complete -c ssmwire -l config -r -F
`,

	"powershell": `# PowerShell completion for ssmwire.
# Load it with: ssmwire completion powershell | Out-String | Invoke-Expression

Register-ArgumentCompleter -Native -CommandName ssmwire, ssmwire.exe -ScriptBlock {
	param($wordToComplete, $commandAst, $cursorPosition)
	$words = @($commandAst.CommandElements |
		Where-Object { $_.Extent.StartOffset -lt $cursorPosition } |
		Select-Object -Skip 1 |
		ForEach-Object {
			if ($_ -is [System.Management.Automation.Language.StringConstantExpressionAst]) { $_.Value } else { $_.Extent.Text }
		})
	if ($wordToComplete -eq '') {
		# Before PowerShell 7.3 an empty argument is dropped unless written as "".
		if ($PSVersionTable.PSVersion -lt [version]'7.3') { $words += '""' } else { $words += '' }
	}
	& ssmwire __complete @words 2>$null | ForEach-Object {
		$text = $_
		if ($text -match '[\s''"` + "`" + `$;,(){}@|&<>#]') { $text = "'" + ($text -replace "'", "''") + "'" }
		[System.Management.Automation.CompletionResult]::new($text, $_, 'ParameterValue', $_)
	}
}
`,
}
