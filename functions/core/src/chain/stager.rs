//! Where a stack keeps its stager, `ecsub-stage`, and how an instance gets it: `ecsub-cli publish-stager` puts
//! each architecture's binary in the stack's bucket under a key named by its SHA-256 and lists it in a manifest;
//! submit reads the manifest into the job ([`JobRef::stagers`](super::JobRef)); the instance's user data fetches
//! its architecture's binary once at boot, checks its SHA-256 and puts it at [`STAGER_DIR`], which every task's
//! container mounts read-only. The container then needs only `/bin/sh`: no AWS CLI, nothing from the internet.
//!
//! Pure: no I/O.

use serde::{Deserialize, Serialize};

/// The folder of the stack's stagers in its bucket (the instance role may read this prefix only).
pub const STAGER_PREFIX: &str = "ecsub/stage/";
/// The manifest submit reads: which binary serves which architecture.
pub const MANIFEST_KEY: &str = "ecsub/stage/manifest.json";
/// Where the instance puts the stager and where every container sees it (read-only).
pub const STAGER_DIR: &str = "/opt/ecsub/bin";
/// The stager's path in the container (run.sh's default `ECSUB_STAGE`).
pub const STAGER_PATH: &str = "/opt/ecsub/bin/ecsub-stage";
/// The architectures an instance can have, as `uname -m` names them.
pub const ARCHES: [&str; 2] = ["x86_64", "aarch64"];
/// The largest stager `publish-stager` takes (bytes): every instance fetches it at boot, and the deploy build is a
/// few MiB (docs/measurements.md). Reading stops there, so a wrong path (`/dev/zero`, a disk image) is refused
/// instead of filling memory.
pub const MAX_STAGER_BYTES: u64 = 64 << 20;
/// An ELF header is 64 bytes (64-bit); [`elf_arch`] reads its first 20.
pub const ELF_HEADER_BYTES: usize = 64;

/// One architecture's stager in the stack's bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StagerRef {
    /// `uname -m`: x86_64 or aarch64.
    pub arch: String,
    /// [`stager_key`] of the arch and the digest.
    pub key: String,
    /// The binary's SHA-256, 64 lowercase hex digits.
    pub sha256: String,
}

/// `ecsub/stage/manifest.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StagerManifest {
    pub stagers: Vec<StagerRef>,
}

/// The key of a stager binary: content-addressed, so a job's user data names exactly the bytes it checks.
pub fn stager_key(arch: &str, sha256: &str) -> String {
    format!("{STAGER_PREFIX}{arch}/{sha256}")
}

impl StagerManifest {
    /// Reads a manifest, refusing anything the user data could not use safely (an unknown arch, a digest that is
    /// not hex, a key outside the stager prefix, an arch listed twice).
    pub fn parse(bytes: &[u8]) -> Result<StagerManifest, String> {
        let manifest: StagerManifest =
            serde_json::from_slice(bytes).map_err(|e| format!("not a stager manifest: {e}"))?;
        if manifest.stagers.is_empty() {
            return Err("it lists no stager".to_owned());
        }
        for (i, s) in manifest.stagers.iter().enumerate() {
            if !ARCHES.contains(&s.arch.as_str()) {
                return Err(format!("unknown architecture {:?}", s.arch));
            }
            if s.sha256.len() != 64
                || !s
                    .sha256
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
            {
                return Err(format!("{}: {:?} is not a SHA-256", s.arch, s.sha256));
            }
            if s.key != stager_key(&s.arch, &s.sha256) {
                return Err(format!(
                    "{}: the key {:?} is not {}",
                    s.arch,
                    s.key,
                    stager_key(&s.arch, &s.sha256)
                ));
            }
            if manifest.stagers[..i].iter().any(|o| o.arch == s.arch) {
                return Err(format!("{} is listed twice", s.arch));
            }
        }
        Ok(manifest)
    }

    /// Adds or replaces the stager of `entry`'s architecture.
    pub fn upsert(&mut self, entry: StagerRef) {
        self.stagers.retain(|s| s.arch != entry.arch);
        self.stagers.push(entry);
        self.stagers.sort_by(|a, b| a.arch.cmp(&b.arch));
    }
}

/// The architecture of an ELF executable, from its header: `x86_64` or `aarch64` (64-bit little-endian only:
/// what EC2 instances run).
pub fn elf_arch(head: &[u8]) -> Result<&'static str, String> {
    if head.len() < 20 || &head[..4] != b"\x7fELF" {
        return Err("not an ELF executable".to_owned());
    }
    if head[4] != 2 || head[5] != 1 {
        return Err("not a 64-bit little-endian ELF executable".to_owned());
    }
    match u16::from_le_bytes([head[18], head[19]]) {
        0x3e => Ok("x86_64"),
        0xb7 => Ok("aarch64"),
        other => Err(format!(
            "an ELF executable for machine {other:#x}, neither x86_64 nor aarch64"
        )),
    }
}

/// The user data lines that fetch the stager: the instance's role credentials from the instance metadata service
/// (IMDSv2), the object signed with them by curl's own SigV4 (the ECS-optimized AMI has curl, not the AWS CLI),
/// its SHA-256 checked, then moved into place. Deterministic for a job: a retried launch sends the same user data,
/// as RunInstances' idempotency token requires. `AWS_EC2_METADATA_SERVICE_ENDPOINT` and `AWS_ENDPOINT_URL_S3` /
/// `AWS_ENDPOINT_URL` (the SDKs' names) are unset on an instance; the emulated cloud sets them. An instance that
/// cannot fetch it shuts down, which terminates it (RunInstances' InstanceInitiatedShutdownBehavior), rather than
/// let its ECS agent register in the account's default cluster.
pub fn fetch_script(bucket: &str, stagers: &[StagerRef]) -> String {
    let mut arms = String::new();
    for s in stagers {
        arms.push_str(&format!(
            "    {}) key={}; sum={} ;;\n",
            s.arch, s.key, s.sha256
        ));
    }
    let empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    format!(
        r#"ecsub_fetch_stager() {{
  case $(uname -m) in
{arms}    *) echo "ecsub: the stack published no stager for $(uname -m) (ecsub-cli publish-stager)" >&2; return 1 ;;
  esac
  imds=${{AWS_EC2_METADATA_SERVICE_ENDPOINT:-http://169.254.169.254}}
  imds=${{imds%/}}
  get="curl -sS --fail --retry 5 --retry-connrefused --max-time 10"
  token=$($get -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 300' "$imds/latest/api/token") || return 1
  md() {{ $get -H "X-aws-ec2-metadata-token: $token" "$imds/latest/meta-data/$1"; }}
  region=$(md placement/region) || return 1
  # The profile's credentials can come a few seconds after boot (404 until then, which curl does not retry).
  role=
  for try in 1 2 3 4 5 6 7 8 9 10; do
    role=$(md iam/security-credentials/ 2>/dev/null) && [ -n "$role" ] && break
    role=
    sleep 3
  done
  [ -n "$role" ] || {{ echo 'ecsub: the instance has no role credentials (its instance profile)' >&2; return 1; }}
  creds=$(md "iam/security-credentials/$role") || return 1
  field() {{ printf '%s\n' "$creds" | sed -n "s/.*\"$1\" *: *\"\([^\"]*\)\".*/\1/p" | head -n 1; }}
  case $region in cn-*) domain=amazonaws.com.cn ;; *) domain=amazonaws.com ;; esac
  endpoint=${{AWS_ENDPOINT_URL_S3:-${{AWS_ENDPOINT_URL:-}}}}
  if [ -n "$endpoint" ]; then url="${{endpoint%/}}/{bucket}/$key"; else url="https://{bucket}.s3.$region.$domain/$key"; fi
  mkdir -p {dir} || return 1
  part={dir}/.ecsub-stage.part
  # The keys go to curl on its standard input, not on its command line (which any process can read).
  printf 'user = "%s:%s"\nheader = "x-amz-security-token: %s"\n' "$(field AccessKeyId)" "$(field SecretAccessKey)" "$(field Token)" |
    curl -sS --fail --retry 3 --retry-all-errors --max-time 120 -K - --aws-sigv4 "aws:amz:$region:s3" \
      -H 'x-amz-content-sha256: {empty}' -o "$part" "$url" || {{ rm -f "$part"; return 1; }}
  echo "$sum  $part" | sha256sum -c --status || {{ echo "ecsub: $url is not the stager whose SHA-256 is $sum" >&2; rm -f "$part"; return 1; }}
  chmod 0755 "$part" && mv -f "$part" {dir}/ecsub-stage || return 1
  # The stager trusts this CA bundle when the image has none (busybox, distroless): it talks to AWS over TLS.
  for ca in /etc/pki/tls/certs/ca-bundle.crt /etc/ssl/certs/ca-certificates.crt; do
    if [ -f "$ca" ]; then cp "$ca" {dir}/ca-bundle.pem && break; fi
  done
}}
# Without the stager no task could run here. The ECS agent starts whatever the user data does (into the account's
# "default" cluster, without ECS_CLUSTER), so the instance powers off: it was launched to terminate on shutdown.
ecsub_fetch_stager || {{ echo 'ecsub: cannot fetch the stager: this instance shuts down (and terminates)' >&2; shutdown -h now; exit 1; }}
"#,
        dir = STAGER_DIR,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(arch: &str, digit: char) -> StagerRef {
        let sha = std::iter::repeat_n(digit, 64).collect::<String>();
        StagerRef {
            arch: arch.into(),
            key: stager_key(arch, &sha),
            sha256: sha,
        }
    }

    #[test]
    fn a_manifest_is_refused_unless_the_user_data_can_trust_it() {
        let good = StagerManifest {
            stagers: vec![entry("x86_64", 'a'), entry("aarch64", 'b')],
        };
        let text = serde_json::to_vec(&good).unwrap();
        assert_eq!(StagerManifest::parse(&text).unwrap(), good);
        let bad = |m: StagerManifest| {
            StagerManifest::parse(&serde_json::to_vec(&m).unwrap()).unwrap_err()
        };
        assert_eq!(bad(StagerManifest::default()), "it lists no stager");
        assert!(bad(StagerManifest {
            stagers: vec![entry("riscv64", 'a')]
        })
        .contains("unknown architecture"));
        assert!(bad(StagerManifest {
            stagers: vec![entry("x86_64", 'A')]
        })
        .contains("is not a SHA-256"));
        let mut moved = entry("x86_64", 'a');
        moved.key = "jobs/x".into();
        assert!(bad(StagerManifest {
            stagers: vec![moved]
        })
        .contains("is not ecsub/stage/x86_64/aaaa"));
        assert!(bad(StagerManifest {
            stagers: vec![entry("x86_64", 'a'), entry("x86_64", 'c')]
        })
        .contains("twice"));
        assert!(StagerManifest::parse(b"{")
            .unwrap_err()
            .starts_with("not a stager manifest"));
    }

    #[test]
    fn upsert_replaces_the_arch_and_keeps_the_others() {
        let mut m = StagerManifest {
            stagers: vec![entry("x86_64", 'a'), entry("aarch64", 'b')],
        };
        m.upsert(entry("x86_64", 'c'));
        assert_eq!(m.stagers, vec![entry("aarch64", 'b'), entry("x86_64", 'c')]);
    }

    #[test]
    fn elf_headers_name_their_architecture() {
        let mut head = vec![0x7f, b'E', b'L', b'F', 2, 1, 1, 0];
        head.resize(20, 0);
        head[18] = 0x3e;
        assert_eq!(elf_arch(&head), Ok("x86_64"));
        head[18] = 0xb7;
        assert_eq!(elf_arch(&head), Ok("aarch64"));
        head[18] = 0x28;
        assert!(elf_arch(&head).unwrap_err().contains("0x28"));
        head[4] = 1;
        assert!(elf_arch(&head).unwrap_err().contains("64-bit"));
        assert_eq!(
            elf_arch(b"#!/bin/sh\n"),
            Err("not an ELF executable".to_owned())
        );
    }

    #[test]
    fn the_fetch_names_each_arch_and_keeps_keys_off_the_command_line() {
        let script = fetch_script("stack-bkt", &[entry("x86_64", 'a'), entry("aarch64", 'b')]);
        assert!(script.contains(&format!(
            "    x86_64) key=ecsub/stage/x86_64/{0}; sum={0} ;;\n",
            "a".repeat(64)
        )));
        assert!(script.contains("    aarch64) key=ecsub/stage/aarch64/"));
        assert!(script.contains("url=\"https://stack-bkt.s3.$region.$domain/$key\""));
        assert!(script.contains("-K - --aws-sigv4"));
        assert!(!script.contains("--user"), "no key on a command line");
        assert_eq!(
            script,
            fetch_script("stack-bkt", &[entry("x86_64", 'a'), entry("aarch64", 'b')])
        );
    }
}
