//! `ccm completions SHELL`: the shell completion script of the whole command
//! line, generated from its clap definition (source it, or install it where the
//! shell looks: e.g. `ccm completions bash > /etc/bash_completion.d/ccm`).

use std::io::Write;

use clap::CommandFactory;
use clap_complete::Shell;

use super::Cli;

/// Writes the completion script for `shell` to `out` (a closed pipe is not an
/// error; the generator itself panics on one, so it writes to memory first).
pub fn write(shell: Shell, out: &mut dyn Write) {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "ccm", &mut script);
    let _ = out.write_all(&script).and_then(|()| out.flush());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shell_gets_a_script_naming_the_subcommands() {
        for shell in [
            Shell::Bash,
            Shell::Zsh,
            Shell::Fish,
            Shell::Elvish,
            Shell::PowerShell,
        ] {
            let mut out = Vec::new();
            write(shell, &mut out);
            let text = String::from_utf8_lossy(&out);
            assert!(text.contains("placement"), "{shell}: {text}");
        }
    }
}
