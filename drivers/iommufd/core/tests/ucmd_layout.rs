// SPDX-License-Identifier: GPL-2.0

//! The decoders' field tables against the C headers.
//!
//! 1. A C probe, generated from `iommufd_core::ucmd::LAYOUTS` and compiled against our
//!    `include/uapi/linux/iommufd.h` and `drivers/iommufd/iommufd_test.h` (what the selftests
//!    are built with), prints `sizeof` of every struct and `offsetof`/`sizeof` of every field
//!    the decoders use; each must equal the Rust constant.
//! 2. The member lists of the same structs are read from the headers' text, and must be the
//!    Rust tables' names, in order: no C field is left out.
//! 3. Outside unions, the fields tile the struct: no gap, no overlap.

use iommufd_core::ucmd::{Layout, LAYOUTS};
use std::{collections::HashMap, path::PathBuf, process::Command};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../..")
}

fn probe_source() -> String {
    let mut s = String::from(
        "#include <stdio.h>\n#include <stddef.h>\n#include <stdbool.h>\n\
         #include <linux/types.h>\n#include <linux/iommufd.h>\n#include \"iommufd_test.h\"\n\
         int main(void)\n{\n",
    );
    for l in LAYOUTS.iter() {
        let t = format!("struct {}", l.c_struct);
        s += &format!(
            "\tprintf(\"{} . %zu %zu\\n\", (size_t)0, sizeof({t}));\n",
            l.c_struct
        );
        for f in l.fields {
            s += &format!(
                "\tprintf(\"{} {} %zu %zu\\n\", offsetof({t}, {}), sizeof((({t} *)0)->{}));\n",
                l.c_struct, f.name, f.name, f.name
            );
        }
    }
    s += "\treturn 0;\n}\n";
    s
}

#[test]
fn field_offsets_match_the_c_headers() {
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let src = out.join("ucmd_layout_probe.c");
    let bin = out.join("ucmd_layout_probe");
    std::fs::write(&src, probe_source()).unwrap();
    let cc = Command::new("cc")
        .arg("-Wall")
        .arg("-Werror")
        .arg("-isystem")
        .arg(root().join("include/uapi"))
        .arg("-I")
        .arg(root().join("drivers/iommufd"))
        .arg(&src)
        .arg("-o")
        .arg(&bin)
        .status()
        .expect("a C compiler (cc) is needed for this test");
    assert!(cc.success(), "the layout probe did not compile");
    let run = Command::new(&bin).output().unwrap();
    assert!(run.status.success());
    let text = String::from_utf8(run.stdout).unwrap();
    let mut c: HashMap<(String, String), (usize, usize)> = HashMap::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        assert_eq!(f.len(), 4, "{line}");
        c.insert(
            (f[0].to_string(), f[1].to_string()),
            (f[2].parse().unwrap(), f[3].parse().unwrap()),
        );
    }
    let mut checked = 0;
    for l in LAYOUTS.iter() {
        let (_, size) = c[&(l.c_struct.to_string(), ".".to_string())];
        assert_eq!(l.size, size, "sizeof(struct {})", l.c_struct);
        for f in l.fields {
            let (off, sz) = c[&(l.c_struct.to_string(), f.name.to_string())];
            assert_eq!(f.offset, off, "offsetof(struct {}, {})", l.c_struct, f.name);
            assert_eq!(f.size, sz, "sizeof(struct {}.{})", l.c_struct, f.name);
            checked += 1;
        }
    }
    eprintln!(
        "ucmd_layout: {checked} field offsets/sizes and {} struct sizes match C",
        LAYOUTS.len()
    );
    assert!(checked > 100);
}

/// Strips comments and preprocessor lines, and splits into identifiers/numbers and
/// punctuation.
fn tokens(text: &str) -> Vec<String> {
    let mut clean = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("/*") {
        clean += &rest[..i];
        let end = rest[i..].find("*/").expect("unterminated comment");
        rest = &rest[i + end + 2..];
    }
    clean += rest;
    let clean: String = clean
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = Vec::new();
    let mut word = String::new();
    for ch in clean.chars() {
        if ch.is_alphanumeric() || ch == '_' {
            word.push(ch);
            continue;
        }
        if !word.is_empty() {
            out.push(std::mem::take(&mut word));
        }
        if !ch.is_whitespace() {
            out.push(ch.to_string());
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// Parses a member list starting after `{`; returns the member designators and the index
/// after the closing `}`.
fn members(t: &[String], mut i: usize) -> (Vec<String>, usize) {
    let mut names = Vec::new();
    loop {
        if t[i] == "}" {
            return (names, i + 1);
        }
        if (t[i] == "union" || t[i] == "struct") && t[i + 1] == "{" {
            let (inner, j) = members(t, i + 2);
            i = j;
            if t[i] == ";" {
                names.extend(inner);
            } else {
                let member = &t[i];
                names.extend(inner.iter().map(|n| format!("{member}.{n}")));
                i += 1;
            }
            assert_eq!(t[i], ";");
            i += 1;
            continue;
        }
        // `type... name [N]? ;`
        let mut name = None;
        while t[i] != ";" {
            if t[i] == "[" {
                while t[i] != "]" {
                    i += 1;
                }
            } else if t[i].chars().all(|c| c.is_alphanumeric() || c == '_') {
                name = Some(t[i].clone());
            }
            i += 1;
        }
        names.push(name.expect("a member name"));
        i += 1;
    }
}

fn c_members(t: &[String], tag: &str) -> Option<Vec<String>> {
    (0..t.len().saturating_sub(2))
        .find(|&i| t[i] == "struct" && t[i + 1] == tag && t[i + 2] == "{")
        .map(|i| members(t, i + 3).0)
}

#[test]
fn no_c_field_is_left_out() {
    let mut text = std::fs::read_to_string(root().join("include/uapi/linux/iommufd.h")).unwrap();
    text += &std::fs::read_to_string(root().join("drivers/iommufd/iommufd_test.h")).unwrap();
    let t = tokens(&text);
    for l in LAYOUTS.iter() {
        let c = c_members(&t, l.c_struct).unwrap_or_else(|| panic!("struct {}", l.c_struct));
        let rust: Vec<&str> = l.fields.iter().map(|f| f.name).collect();
        assert_eq!(rust, c, "members of struct {}", l.c_struct);
    }
}

fn check_tiling(l: &Layout, fields: &[(usize, usize)], from: usize, to: usize) {
    let mut spans: Vec<(usize, usize)> = fields.to_vec();
    spans.sort();
    spans.dedup();
    let mut at = from;
    for (off, size) in spans {
        assert_eq!(off, at, "gap or overlap at {off} in struct {}", l.c_struct);
        at = off + size;
    }
    assert_eq!(at, to, "struct {} fields end at {at}", l.c_struct);
}

#[test]
fn fields_tile_the_structs() {
    for l in LAYOUTS.iter() {
        if l.c_struct == "iommu_test_cmd" {
            // Header, then the union's members each within [16, 64), then `last` and padding.
            let outer: Vec<(usize, usize)> = l
                .fields
                .iter()
                .filter(|f| !f.name.contains('.'))
                .map(|f| (f.offset, f.size))
                .collect();
            assert_eq!(outer, [(0, 4), (4, 4), (8, 4), (12, 4), (64, 4)]);
            for f in l.fields.iter().filter(|f| f.name.contains('.')) {
                assert!(f.offset >= 16 && f.offset + f.size <= 64, "{}", f.name);
            }
            continue;
        }
        // `in_data_type`/`out_data_type` are a union: identical spans count once.
        let spans: Vec<(usize, usize)> = l.fields.iter().map(|f| (f.offset, f.size)).collect();
        check_tiling(l, &spans, 0, l.size);
    }
}
