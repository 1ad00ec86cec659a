//! The account's EC2 vCPU quotas, known before a job waits on them. EC2 limits the vCPUs of running on-demand
//! instances, and of spot requests, per class of instance families and per region (EC2 User Guide, "Amazon EC2
//! service quotas": "On-Demand Instance quotas" and "Spot Instance quotas"); Service Quotas answers each by code.
//! A job whose `--processes` instances would need more waits with most of its tasks unstarted (dsub#153: 5 000
//! tasks, 7 ran), so submit, `push` and `push --dry-run` say how many run at once and how to ask for more.
//! Pure: which quota a type draws on, and what to tell the user.

use std::fmt::Write as _;

/// One of EC2's vCPU quotas, as Service Quotas names it (service code `ec2`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VcpuQuota {
    pub code: &'static str,
    pub name: &'static str,
}

/// The families of the standard class (A, C, D, H, I, M, R, T, Z), by their first letter.
const STANDARD: &[char] = &['a', 'c', 'd', 'h', 'i', 'm', 'r', 't', 'z'];

/// The quota an instance type's launches draw on, on demand or spot; `None` for a class without a quota here
/// (F, X, Inf, DL, Trn, high memory: not checked).
pub fn quota_for(instance_type: &str, spot: bool) -> Option<VcpuQuota> {
    let family = instance_type.split('.').next().unwrap_or_default();
    let class = if ["inf", "dl", "trn", "u-", "hpc"]
        .iter()
        .any(|p| family.starts_with(p))
    {
        return None;
    } else if family.starts_with('g') || family.starts_with("vt") {
        "G and VT"
    } else if family.starts_with('p') {
        "P"
    } else if family.starts_with(STANDARD) {
        "Standard (A, C, D, H, I, M, R, T, Z)"
    } else {
        return None;
    };
    let (code, name) = match (class, spot) {
        ("G and VT", false) => ("L-DB2E81BA", "Running On-Demand G and VT instances"),
        ("G and VT", true) => ("L-3819A6DF", "All G and VT Spot Instance Requests"),
        ("P", false) => ("L-417A185B", "Running On-Demand P instances"),
        ("P", true) if family.starts_with("p5") => ("L-C4BD4855", "All P5 Spot Instance Requests"),
        ("P", true) => ("L-7212CCBC", "All P4, P3 and P2 Spot Instance Requests"),
        (_, false) => (
            "L-1216C47A",
            "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances",
        ),
        (_, true) => (
            "L-34B43A08",
            "All Standard (A, C, D, H, I, M, R, T, Z) Spot Instance Requests",
        ),
    };
    Some(VcpuQuota { code, name })
}

/// What a job asks of one quota: its type, that type's vCPUs, and how many instances run at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Demand<'a> {
    pub instance_type: &'a str,
    pub vcpus: u32,
    /// `--processes`, or the job's task count when that is smaller.
    pub at_once: u32,
}

/// What to tell the user when the quota (`value` vCPUs, as Service Quotas answers it) is smaller than the job's
/// demand: how many tasks run at once (fewer if the account runs other instances of the class), and the command
/// that asks for enough. `None` when the quota holds them all.
pub fn advice(demand: &Demand<'_>, quota: &VcpuQuota, value: f64, region: &str) -> Option<String> {
    let needed = u64::from(demand.vcpus) * u64::from(demand.at_once);
    if value >= needed as f64 {
        return None;
    }
    let fits = if demand.vcpus == 0 {
        0
    } else {
        (value.max(0.0) as u64) / u64::from(demand.vcpus)
    };
    let mut out = format!(
        "the account's vCPU quota \"{}\" ({}) in {region} is {} vCPUs: ",
        quota.name,
        quota.code,
        value.max(0.0) as u64
    );
    if fits == 0 {
        let _ = write!(
            out,
            "not one {} ({} vCPUs) can run, so no task starts until it is raised",
            demand.instance_type, demand.vcpus
        );
    } else {
        let _ = write!(
            out,
            "at most {fits} tasks on {} ({} vCPUs each) run at once, not {} (fewer while the account runs other \
             instances of the class); the others wait their turn",
            demand.instance_type, demand.vcpus, demand.at_once
        );
    }
    let _ = write!(
        out,
        ". Ask for {needed}: aws service-quotas request-service-quota-increase --service-code ec2 --quota-code {} \
         --desired-value {needed} --region {region}",
        quota.code
    );
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_family_draws_on_its_class_quota_on_demand_or_spot() {
        let code = |t: &str, spot: bool| quota_for(t, spot).map(|q| q.code);
        assert_eq!(code("t3.micro", false), Some("L-1216C47A"));
        assert_eq!(code("m7g.large", true), Some("L-34B43A08"));
        assert_eq!(code("c6in.xlarge", false), Some("L-1216C47A"));
        assert_eq!(code("g4dn.xlarge", false), Some("L-DB2E81BA"));
        assert_eq!(code("vt1.3xlarge", true), Some("L-3819A6DF"));
        assert_eq!(code("p4d.24xlarge", false), Some("L-417A185B"));
        assert_eq!(code("p5.48xlarge", true), Some("L-C4BD4855"));
        assert_eq!(code("p3.2xlarge", true), Some("L-7212CCBC"));
        assert_eq!(code("inf2.xlarge", false), None);
        assert_eq!(code("x2iedn.xlarge", false), None);
        assert_eq!(code("u-6tb1.metal", false), None);
    }

    #[test]
    fn a_quota_smaller_than_the_job_says_how_many_run_and_how_to_ask() {
        let quota = quota_for("t3.xlarge", false).unwrap();
        let demand = Demand {
            instance_type: "t3.xlarge",
            vcpus: 4,
            at_once: 20,
        };
        assert_eq!(advice(&demand, &quota, 80.0, "us-east-1"), None);
        assert_eq!(
            advice(&demand, &quota, 16.0, "us-east-1").unwrap(),
            "the account's vCPU quota \"Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances\" \
             (L-1216C47A) in us-east-1 is 16 vCPUs: at most 4 tasks on t3.xlarge (4 vCPUs each) run at once, not \
             20 (fewer while the account runs other instances of the class); the others wait their turn. Ask for \
             80: aws service-quotas request-service-quota-increase --service-code ec2 --quota-code L-1216C47A \
             --desired-value 80 --region us-east-1"
        );
        let gpu = Demand {
            instance_type: "g5.xlarge",
            vcpus: 4,
            at_once: 2,
        };
        let none = advice(
            &gpu,
            &quota_for("g5.xlarge", false).unwrap(),
            0.0,
            "eu-west-1",
        )
        .unwrap();
        assert!(
            none.contains("is 0 vCPUs: not one g5.xlarge (4 vCPUs) can run, so no task starts")
                && none.ends_with("--quota-code L-DB2E81BA --desired-value 8 --region eu-west-1"),
            "{none}"
        );
    }
}
