/**
 * `credreg completion bash|zsh|fish`: a completion script generated from the command tree itself
 * (commands, subcommands, options), so it cannot drift from what the CLI accepts. Each script finds
 * where on the tree the words typed so far lead (words that name a subcommand there move down;
 * options and their values are skipped), then offers that node's subcommands and options.
 */
import { type Command, InvalidArgumentError } from 'commander';

/** The shells a script is generated for. */
export const COMPLETION_SHELLS = ['bash', 'zsh', 'fish'] as const;
export type CompletionShell = (typeof COMPLETION_SHELLS)[number];

interface Word {
  name: string;
  description: string;
}

/** One command of the tree: the words that lead to it, its subcommands and its options. */
interface Node {
  path: string;
  subcommands: Word[];
  options: Word[];
}

/** Every command of the tree, the root first (its path is ''). */
export function commandTree(program: Command): Node[] {
  const nodes: Node[] = [];
  const visit = (command: Command, path: string) => {
    const subcommands = command.commands.flatMap((c) =>
      [c.name(), ...c.aliases()].map((name) => ({ name, description: c.description() })),
    );
    const options = [
      ...command.options.flatMap((o) =>
        [o.long, o.short]
          .filter((f): f is string => !!f)
          .map((name) => ({ name, description: o.description })),
      ),
      { name: '--help', description: 'display help for command' },
    ];
    nodes.push({ path, subcommands, options });
    for (const c of command.commands) visit(c, path ? `${path} ${c.name()}` : c.name());
  };
  visit(program, '');
  return nodes;
}

/** The completion script for `shell`, for the program named `program.name()`. */
export function completionScript(program: Command, shell: CompletionShell): string {
  const nodes = commandTree(program);
  const name = program.name();
  const fn = `_${name.replace(/[^A-Za-z0-9_]/g, '_')}`;
  switch (shell) {
    case 'bash':
      return bashScript(name, fn, nodes);
    case 'zsh':
      return zshScript(name, fn, nodes);
    case 'fish':
      return fishScript(name, fn, nodes);
  }
}

/** A shell word in single quotes: safe for any text, in all three shells. */
function quote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** fish's single quotes escape with a backslash instead. */
function fishQuote(text: string): string {
  return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** One line, without the characters a description's completion display cannot hold. */
function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

function names(words: Word[]): string {
  return words.map((w) => w.name).join(' ');
}

function bashScript(name: string, fn: string, nodes: Node[]): string {
  const subs = nodes.map((n) => `    ${quote(n.path)}) echo ${quote(names(n.subcommands))} ;;`).join('\n');
  const opts = nodes.map((n) => `    ${quote(n.path)}) echo ${quote(names(n.options))} ;;`).join('\n');
  return `# ${name} completion for bash: add to ~/.bashrc
#   eval "$(${name} completion bash)"
${fn}_subcommands() {
  case "$1" in
${subs}
  esac
}
${fn}_options() {
  case "$1" in
${opts}
  esac
}
${fn}() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" path="" word i
  for ((i = 1; i < COMP_CWORD; i++)); do
    word="\${COMP_WORDS[i]}"
    [[ "$word" == -* ]] && continue
    case " $(${fn}_subcommands "$path") " in
      *" $word "*) path="\${path:+$path }$word" ;;
    esac
  done
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$(${fn}_options "$path")" -- "$cur"))
  else
    COMPREPLY=($(compgen -W "$(${fn}_subcommands "$path")" -- "$cur"))
  fi
}
complete -o default -F ${fn} ${name}
`;
}

function zshScript(name: string, fn: string, nodes: Node[]): string {
  // _describe takes name:description; a colon in a name would need escaping, and none has one.
  const list = (words: Word[]) => words.map((w) => quote(`${w.name}:${oneLine(w.description)}`)).join(' ');
  const subs = nodes.map((n) => `    ${quote(n.path)}) print -rl -- ${list(n.subcommands)} ;;`).join('\n');
  const opts = nodes.map((n) => `    ${quote(n.path)}) print -rl -- ${list(n.options)} ;;`).join('\n');
  return `#compdef ${name}
# ${name} completion for zsh: add to ~/.zshrc (after compinit)
#   eval "$(${name} completion zsh)"
${fn}_subcommands() {
  case "$1" in
${subs}
  esac
}
${fn}_options() {
  case "$1" in
${opts}
  esac
}
${fn}() {
  local path_="" word i
  local -a subs opts
  for (( i = 2; i < CURRENT; i++ )); do
    word="\${words[i]}"
    [[ "$word" == -* ]] && continue
    subs=("\${(@f)$(${fn}_subcommands "$path_")}")
    (( \${subs[(I)\${(b)word}:*]} )) && path_="\${path_:+$path_ }$word"
  done
  subs=("\${(@f)$(${fn}_subcommands "$path_")}")
  opts=("\${(@f)$(${fn}_options "$path_")}")
  if [[ "\${words[CURRENT]}" == -* ]]; then
    _describe -t options option opts
  else
    _describe -t commands command subs
  fi
}
compdef ${fn} ${name}
`;
}

function fishScript(name: string, fn: string, nodes: Node[]): string {
  const subs = nodes
    .map(
      (n) =>
        `    case ${fishQuote(n.path)}\n      printf '%s\\n' ${n.subcommands.map((w) => fishQuote(w.name)).join(' ')}`,
    )
    .join('\n');
  const lines: string[] = [];
  for (const n of nodes) {
    const at = `'${fn}_at ${fishQuote(n.path).replace(/'/g, "\\'")}'`;
    for (const w of n.subcommands) {
      lines.push(
        `complete -c ${name} -n ${at} -a ${fishQuote(w.name)} -d ${fishQuote(oneLine(w.description))}`,
      );
    }
    for (const w of n.options) {
      const flag = w.name.startsWith('--') ? `-l ${w.name.slice(2)}` : `-s ${w.name.slice(1)}`;
      lines.push(`complete -c ${name} -n ${at} ${flag} -d ${fishQuote(oneLine(w.description))}`);
    }
  }
  return `# ${name} completion for fish: save as ~/.config/fish/completions/${name}.fish
#   ${name} completion fish > ~/.config/fish/completions/${name}.fish
function ${fn}_subcommands
  switch $argv[1]
${subs}
  end
end
# Whether the words typed so far lead to the command at path $argv[1].
function ${fn}_at
  set -l path ''
  for word in (commandline -opc)[2..-1]
    string match -q -- '-*' $word; and continue
    if contains -- $word (${fn}_subcommands $path)
      set path (string trim -- "$path $word")
    end
  end
  test "$path" = "$argv[1]"
end
complete -c ${name} -f
${lines.join('\n')}
`;
}

/**
 * Adds `completion <shell>`. The script is generated when the command runs, once every command
 * is defined, so the order of registration does not matter.
 */
export function registerCompletionCommand(program: Command): void {
  program
    .command('completion')
    .argument('<shell>', `one of ${COMPLETION_SHELLS.join(', ')}`, (text: string) => {
      if (!(COMPLETION_SHELLS as readonly string[]).includes(text)) {
        throw new InvalidArgumentError(`must be one of ${COMPLETION_SHELLS.join(', ')}.`);
      }
      return text as CompletionShell;
    })
    .description('print a shell completion script (bash, zsh or fish)')
    .action((shell: CompletionShell) => {
      process.stdout.write(completionScript(program, shell));
    });
}
