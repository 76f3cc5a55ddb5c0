#!/usr/bin/env python3
"""Renders the README and docs/*.md with cmark-gfm (GitHub-flavoured
Markdown) and checks what a reader would see:

- every heading the author wrote (a line starting with '#' outside what the
  author meant as a code block: any line starting with ``` toggles one)
  renders as a heading: a fence that does not close as written swallows the
  rest of the page into one code block;
- every code block closes (no page ends inside one);
- every relative link points to a file of the repository.

Usage: check_markdown.py REPO_ROOT. Prints "N passed, N failed".
"""
import html.parser
import pathlib
import re
import subprocess
import sys


class Rendered(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.headings = []
        self.links = []
        self._in_heading = False
        self._text = []

    def handle_starttag(self, tag, attrs):
        if re.fullmatch(r"h[1-6]", tag):
            self._in_heading = True
            self._text = []
        elif tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.links.append(href)

    def handle_endtag(self, tag):
        if re.fullmatch(r"h[1-6]", tag):
            self._in_heading = False
            self.headings.append("".join(self._text).strip())

    def handle_data(self, data):
        if self._in_heading:
            self._text.append(data)


def intended_headings(text):
    headings, in_code = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code and re.match(r"#{1,6} ", line):
            headings.append(line)
    return headings, in_code


def check(path, root):
    problems = []
    text = path.read_text(encoding="utf-8")
    headings, unclosed = intended_headings(text)
    if unclosed:
        problems.append("a code block opened with ``` never closes")
    html_text = subprocess.run(
        ["cmark-gfm", "--extension", "table", "--extension", "autolink", str(path)],
        check=True, capture_output=True, text=True).stdout
    page = Rendered()
    page.feed(html_text)
    if len(page.headings) != len(headings):
        shown = set(page.headings)
        lost = [h for h in headings if h.lstrip("#").strip().replace("`", "") not in shown]
        problems.append("%d headings written, %d rendered; lost: %s"
                        % (len(headings), len(page.headings), lost[:3]))
    for href in page.links:
        if re.match(r"[a-z]+:", href) or href.startswith("#"):
            continue
        target = (path.parent / href.split("#")[0]).resolve()
        if not target.exists() or root not in target.parents and target != root:
            problems.append("link to a missing file: " + href)
    return problems


def main():
    root = pathlib.Path(sys.argv[1]).resolve()
    pages = [root / "README.md"] + sorted((root / "docs").glob("*.md"))
    passed = failed = 0
    for page in pages:
        problems = check(page, root)
        for p in problems:
            print("%s: %s" % (page.relative_to(root), p))
        if problems:
            failed += 1
        else:
            passed += 1
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
