//! Converts a Markdown file to a standalone HTML page for `.ci/render-check`.
//!
//! Usage: `cargo run --example md2html -- IN.md OUT.html`. Links and images keep their relative
//! paths, except that links to `.md` files point to the `.html` file written beside them.

use std::process::ExitCode;

use pulldown_cmark::{CowStr, Event, Options, Parser, Tag, html};

const STYLE: &str = "body{font-family:sans-serif;max-width:860px;margin:2em auto;padding:0 1em;\
line-height:1.45;color:#222}table{border-collapse:collapse;margin:1em 0;font-size:0.92em}\
th,td{border:1px solid #ccc;padding:0.25em 0.6em;text-align:left}th{background:#f3f3f3}\
code{background:#f3f3f3;padding:0 0.2em}pre{background:#f3f3f3;padding:0.6em;overflow-x:auto}\
img{max-width:100%}";

fn convert(markdown: &str, title: &str) -> String {
    let parser = Parser::new_ext(markdown, Options::ENABLE_TABLES).map(|event| match event {
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        }) if dest_url.ends_with(".md") || dest_url.contains(".md#") => {
            let url = dest_url.replacen(".md", ".html", 1);
            Event::Start(Tag::Link {
                link_type,
                dest_url: CowStr::from(url),
                title,
                id,
            })
        }
        other => other,
    });
    let mut body = String::new();
    html::push_html(&mut body, parser);
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\
         <style>{STYLE}</style></head><body>\n{body}</body></html>\n"
    )
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let [_, input, output] = args.as_slice() else {
        eprintln!("usage: md2html IN.md OUT.html");
        return ExitCode::from(2);
    };
    let markdown = match std::fs::read_to_string(input) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("error: failed to read `{input}`: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = std::fs::write(output, convert(&markdown, input)) {
        eprintln!("error: failed to write `{output}`: {e}");
        return ExitCode::from(2);
    }
    ExitCode::SUCCESS
}
