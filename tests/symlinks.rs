//! A symlink inside an allowed directory does not grant access to where it points (Deno checks
//! the path it is given; the sandbox's filesystem also checks where the path really leads).

mod common;

use common::Server;
use serde_json::json;

#[tokio::test]
async fn symlinks_out_of_the_allowed_directory_are_refused() {
    let s = Server::start("allow-read={ws},allow-write={ws}").await;
    let outside = s.dir.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("secret.txt"), "secret").unwrap();
    std::os::unix::fs::symlink(&outside, s.ws().join("escape")).unwrap();
    std::os::unix::fs::symlink(outside.join("secret.txt"), s.ws().join("secret-link.txt")).unwrap();
    std::fs::write(s.ws().join("inside.txt"), "inside").unwrap();
    std::os::unix::fs::symlink(s.ws().join("inside.txt"), s.ws().join("inside-link.txt")).unwrap();

    for (what, code) in [
        ("read through a linked dir", r#"Deno.readTextFileSync("escape/secret.txt")"#),
        ("read a linked file", r#"await Deno.readTextFile("secret-link.txt")"#),
        ("open a linked file", r#"Deno.openSync("secret-link.txt").close()"#),
        ("list a linked dir", r#"[...Deno.readDirSync("escape")]"#),
        ("stat through a link", r#"Deno.statSync("escape/secret.txt")"#),
        ("realPath of a link", r#"Deno.realPathSync("escape")"#),
        ("write through a linked dir", r#"Deno.writeTextFileSync("escape/new.txt", "x")"#),
        ("append to a linked file", r#"await Deno.writeTextFile("secret-link.txt", "x", { append: true })"#),
        ("copy out through a link", r#"Deno.copyFileSync("escape/secret.txt", "copy.txt")"#),
        ("mkdir through a linked dir", r#"Deno.mkdirSync("escape/sub")"#),
        ("remove through a linked dir", r#"Deno.removeSync("escape/secret.txt")"#),
        ("truncate a linked file", r#"Deno.truncateSync("secret-link.txt")"#),
    ] {
        let r = s.run(code).await;
        assert_eq!(r.error_type(), "permission", "{what}: {r:?}");
    }
    assert_eq!(std::fs::read_to_string(outside.join("secret.txt")).unwrap(), "secret");
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 1);

    // The links themselves, and links that stay inside, keep working.
    let r = s
        .run(
            r#"[
              Deno.lstatSync("escape").isSymlink,
              Deno.readLinkSync("secret-link.txt").endsWith("secret.txt"),
              Deno.readTextFileSync("inside-link.txt"),
              (Deno.removeSync("escape"), Deno.readDirSync(".").some((e) => e.name === "escape")),
            ]"#,
        )
        .await;
    assert_eq!(r.value(), &json!([true, true, "inside", false]));
}

#[tokio::test]
async fn an_allowed_path_that_is_a_symlink_covers_its_target() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real-data");
    std::fs::create_dir_all(&real).unwrap();
    std::fs::write(real.join("a.txt"), "through the link").unwrap();
    let link = dir.path().join("data-link");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let s = Server::start(&format!("allow-read={}", link.display())).await;
    let r = s.run(&format!("Deno.readTextFileSync({:?})", link.join("a.txt").display().to_string())).await;
    assert_eq!(r.value(), &json!("through the link"));
}
