//! Manual pages generated from the clap definitions (clap_mangen), plus the sections clap knows
//! nothing about (exit status, environment, files). Both binaries write their own pages
//! (`ocapd --manpages DIR`, `ocapctl manpages DIR`) so that the pages always describe the binary
//! that is installed with them; `make` runs them right after the build.

use roff::{Roff, bold, roman};
use std::path::{Path, PathBuf};

/// A section of prose after the generated ones.
pub struct Section<'a> {
    /// The heading, e.g. `EXIT STATUS`.
    pub title: &'a str,
    /// Tagged paragraphs: (tag, text). An empty tag makes a plain paragraph.
    pub items: &'a [(&'a str, &'a str)],
}

/// The page of `cmd` in manual `section`, its footer naming `source` (the program and version),
/// followed by `extra`. With `notes`, the command's `after_help` becomes its NOTES section (the
/// top-level one's is covered by `extra` instead).
fn render(
    cmd: clap::Command,
    section: &str,
    source: &str,
    extra: &[Section],
    notes: bool,
) -> Vec<u8> {
    let man = clap_mangen::Man::new(cmd.clone())
        .section(section)
        .source(source);
    let mut out = Vec::new();
    let io = |r: std::io::Result<()>| r.expect("writing to a Vec cannot fail");
    io(man.render_title(&mut out));
    io(man.render_name_section(&mut out));
    io(man.render_synopsis_section(&mut out));
    io(man.render_description_section(&mut out));
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        io(man.render_options_section(&mut out));
    }
    if cmd.get_subcommands().any(|s| !s.is_hide_set()) {
        io(man.render_subcommands_section(&mut out));
    }
    let mut roff = Roff::new();
    if let Some(help) = cmd.get_after_help().filter(|_| notes) {
        roff.control("SH", ["NOTES"]);
        roff.control("nf", []);
        for line in help.to_string().lines() {
            roff.text([roman(line)]);
        }
        roff.control("fi", []);
    }
    for section in extra {
        roff.control("SH", [section.title]);
        for (tag, text) in section.items {
            if tag.is_empty() {
                roff.control("PP", []);
            } else {
                roff.control("TP", []);
                roff.text([bold(*tag)]);
            }
            roff.text([roman(*text)]);
        }
    }
    io(roff.to_writer(&mut out));
    if cmd.get_version().is_some() {
        io(man.render_version_section(&mut out));
    }
    out
}

/// Writes the page of `cmd` (`NAME.SECTION`) and one page per visible subcommand
/// (`NAME-SUB.SECTION`, git style) into `dir`; returns the files written.
pub fn write_pages(
    cmd: clap::Command,
    section: &str,
    extra: &[Section],
    dir: &Path,
) -> std::io::Result<Vec<PathBuf>> {
    // clap's own `help` subcommand needs no page, nor a mention that would point at none.
    let mut cmd = cmd.disable_help_subcommand(true);
    cmd.build();
    let name = cmd.get_name().to_string();
    let source = format!("{name} {}", cmd.get_version().unwrap_or_default());
    let mut written = vec![write_page(
        dir,
        &format!("{name}.{section}"),
        &render(cmd.clone(), section, &source, extra, false),
    )?];
    let parent = format!("{name}({section})");
    let see_also = [Section {
        title: "SEE ALSO",
        items: &[("", &parent)],
    }];
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let file = format!("{name}-{}.{section}", sub.get_name());
        let page = render(sub.clone(), section, &source, &see_also, true);
        written.push(write_page(dir, &file, &page)?);
    }
    Ok(written)
}

fn write_page(dir: &Path, file: &str, page: &[u8]) -> std::io::Result<PathBuf> {
    let path = dir.join(file);
    std::fs::write(&path, page)
        .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(clap::Parser)]
    #[command(name = "demo", version, about = "A demo", after_help = "after")]
    struct Demo {
        /// The flag
        #[arg(long)]
        flag: bool,
        #[command(subcommand)]
        command: Sub,
    }

    #[derive(clap::Subcommand)]
    enum Sub {
        /// Does one thing
        #[command(after_help = "Example:\n  demo one")]
        One,
        #[command(hide = true)]
        Secret,
    }

    const EXIT: Section<'static> = Section {
        title: "EXIT STATUS",
        items: &[("0", "success"), ("", "plain paragraph")],
    };

    #[test]
    fn pages_carry_the_options_the_subcommands_and_the_extra_sections() {
        use clap::CommandFactory;
        let dir = tempfile::tempdir().unwrap();
        let files = write_pages(Demo::command(), "1", &[EXIT], dir.path()).unwrap();
        let names: Vec<_> = files
            .iter()
            .map(|f| f.file_name().unwrap().to_string_lossy().to_string())
            .collect();
        assert_eq!(names, ["demo.1", "demo-one.1"]);
        let main = std::fs::read_to_string(&files[0]).unwrap();
        for needle in [
            ".TH demo 1",
            "\\-\\-flag",
            "The flag",
            ".SH \"EXIT STATUS\"",
            "plain paragraph",
        ] {
            assert!(main.contains(needle), "{needle} missing from:\n{main}");
        }
        assert!(
            !main.contains("NOTES") && !main.contains("secret"),
            "{main}"
        );
        let one = std::fs::read_to_string(&files[1]).unwrap();
        assert!(
            one.contains(".SH NOTES") && one.contains("demo one"),
            "{one}"
        );
        assert!(one.contains("demo(1)"), "{one}");
        let footer = format!(".TH demo-one 1  \"demo {}\"", env!("CARGO_PKG_VERSION"));
        assert!(one.contains(&footer), "{one}");
    }
}
