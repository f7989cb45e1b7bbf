//! Throw-away organisation PKIs, made with the same `tether pki` commands
//! an administrator runs.

use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

use crate::harness::{Run, command, run};

/// An organisation PKI made with `tether pki` in its own temporary
/// directory (removed on drop).
pub struct TestPki {
    /// The directory holding `pki/` (and the throw-away home of the
    /// `tether pki` commands).
    pub dir: TempDir,
}

impl TestPki {
    /// `tether pki init` in a fresh directory.
    pub fn new(org: &str) -> TestPki {
        let pki = TestPki { dir: tempfile::tempdir().expect("temp dir") };
        pki.tether(&["init", "--org", org]).ok();
        pki
    }

    /// The PKI directory (`--pki-dir`).
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("pki")
    }

    /// Runs `tether pki ARGS --pki-dir ROOT`.
    pub fn tether(&self, args: &[&str]) -> Run {
        let mut cmd = command("tether", self.dir.path());
        cmd.arg("pki").args(args).arg("--pki-dir").arg(self.root());
        run(cmd)
    }

    /// The CA certificate.
    pub fn ca(&self) -> PathBuf {
        self.root().join("ca.crt")
    }

    /// The CA's revocation list.
    pub fn crl(&self) -> PathBuf {
        self.root().join("crl.pem")
    }

    /// The same PKI through the library, for what the CLI does not print.
    pub fn library(&self) -> tether_pki::Pki {
        tether_pki::Pki::open(self.root())
    }

    /// Issues an agent certificate for `name` valid for 127.0.0.1 too.
    pub fn issue_agent(&self, name: &str) -> Identity {
        self.tether(&["issue-agent", name, "--ip", "127.0.0.1"]).ok();
        self.identity("agents", name)
    }

    /// Issues a technician certificate; `role` is `tier1`..`tier3` or `fleet`.
    pub fn issue_tech(&self, name: &str, role: &str) -> Identity {
        let run = match role.strip_prefix("tier") {
            Some(n) => self.tether(&["issue-tech", name, "--tier", n]),
            None => self.tether(&["issue-tech", name, "--role", role]),
        };
        run.ok();
        self.identity("techs", name)
    }

    /// The files of the newest certificate issued to `name`, in `sub`
    /// (`agents` or `techs`).
    pub fn identity(&self, sub: &str, name: &str) -> Identity {
        let dir = self.root().join(sub);
        let serial = self
            .library()
            .list()
            .expect("index readable")
            .into_iter()
            .rev()
            .find(|e| e.name == name)
            .map(|e| e.serial)
            .expect("issued certificate is in the index");
        Identity {
            cert: dir.join(format!("{name}.crt")),
            key: dir.join(format!("{name}.key")),
            ca: self.ca(),
            serial,
        }
    }
}

/// A certificate, its key and the CA to trust.
#[derive(Debug, Clone)]
pub struct Identity {
    /// The certificate (PEM).
    pub cert: PathBuf,
    /// Its private key (PEM).
    pub key: PathBuf,
    /// The CA certificate the peer must chain to.
    pub ca: PathBuf,
    /// The certificate's serial, as the PKI's index lists it.
    pub serial: String,
}

/// `tether` running as the technician `id` (explicit --cert/--key/--ca).
pub fn tether_as(id: &Identity, home: &Path) -> Command {
    let mut cmd = command("tether", home);
    cmd.arg("--cert").arg(&id.cert).arg("--key").arg(&id.key).arg("--ca").arg(&id.ca);
    cmd
}
