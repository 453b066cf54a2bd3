//! Atlantis' apply payload: the `ApplyResult` Go struct, encoded with its Go field names.
//! A plan result (Atlantis PR #5978's `EventResult`) is the same struct with `Event` first,
//! and either may carry PR #5599's `ResultMessage` last.

use serde::{Deserialize, Serialize};

/// An apply result exactly as Atlantis' HTTP webhook sends it: PascalCase keys in struct
/// order, integer enums, `Teams` possibly `null`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ApplyResult {
    /// `"plan"` or `"apply"` (PR #5978's `EventResult.Event`); released Atlantis sends no
    /// such key for applies, so it is absent unless it was received.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// Terraform workspace; `workspace-regex` is tested against it.
    pub workspace: String,
    /// The base repository.
    #[serde(default)]
    pub repo: Repo,
    /// The pull request.
    pub pull: Pull,
    /// Who ran the apply.
    #[serde(default)]
    pub user: User,
    /// Whether the apply steps and the post-apply checks passed.
    pub success: bool,
    /// Repo-relative project directory, `.` for the root.
    #[serde(default)]
    pub directory: String,
    /// Atlantis project name, empty when unnamed.
    #[serde(default)]
    pub project_name: String,
    /// PR #5599: the step outputs joined with newlines (on failure, the error first).
    /// It can be the whole Terraform output, so every chat target shows only its end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_message: Option<String>,
}

/// A repository (`models.Repo`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Repo {
    /// `owner/name`.
    #[serde(rename = "FullName")]
    pub full_name: String,
    /// Owner.
    #[serde(rename = "Owner")]
    pub owner: String,
    /// Name.
    #[serde(rename = "Name")]
    pub name: String,
    /// Clone URL; Atlantis puts the VCS token in it, herald replaces it with `<redacted>`.
    #[serde(rename = "CloneURL")]
    pub clone_url: String,
    /// Clone URL with the password redacted.
    #[serde(rename = "SanitizedCloneURL")]
    pub sanitized_clone_url: String,
    /// VCS host.
    #[serde(rename = "VCSHost")]
    pub vcs_host: VcsHost,
}

/// A VCS host (`models.VCSHost`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct VcsHost {
    /// Host name, such as `github.com`.
    pub hostname: String,
    /// 0 Github, 1 Gitlab, 2 BitbucketCloud, 3 BitbucketServer, 4 AzureDevops, 5 Gitea.
    #[serde(rename = "Type")]
    pub kind: i64,
}

/// A pull request (`models.PullRequest`), fields in Atlantis' order.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Pull {
    /// PR number; negative for API applies without a PR.
    #[serde(rename = "Num")]
    pub num: i64,
    /// Head commit SHA.
    #[serde(rename = "HeadCommit")]
    pub head_commit: String,
    /// PR web URL.
    #[serde(rename = "URL")]
    pub url: String,
    /// Source branch, shown as "Branch" in Slack.
    #[serde(rename = "HeadBranch")]
    pub head_branch: String,
    /// Target branch; `branch-regex` is tested against it.
    #[serde(rename = "BaseBranch")]
    pub base_branch: String,
    /// Newer Atlantis versions send it; older ones do not.
    #[serde(rename = "HardenedNonPRRefCheckout")]
    pub hardened_non_pr_ref_checkout: bool,
    /// PR author.
    #[serde(rename = "Author")]
    pub author: String,
    /// PR description (may be empty).
    #[serde(rename = "Body")]
    pub body: String,
    /// 0 open, 1 closed.
    #[serde(rename = "State")]
    pub state: i64,
    /// Base repository.
    #[serde(rename = "BaseRepo")]
    pub base_repo: Repo,
}

/// The user who ran the apply.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct User {
    /// VCS user name (empty for API applies).
    pub username: String,
    /// Teams, `null` when not looked up.
    pub teams: Option<Vec<String>>,
}

/// Redacts the clone-URL credentials in a received apply tree, as [`ApplyResult::redact`]
/// does in the typed view, and changes nothing else.
pub fn redact_tree(tree: &mut serde_json::Value) {
    for path in [&["Repo"][..], &["Pull", "BaseRepo"][..]] {
        let mut at = Some(&mut *tree);
        for key in path {
            at = at.and_then(|v| v.get_mut(*key));
        }
        let Some(repo) = at.and_then(serde_json::Value::as_object_mut) else {
            continue;
        };
        for key in ["CloneURL", "SanitizedCloneURL"] {
            if let Some(serde_json::Value::String(url)) = repo.get_mut(key) {
                *url = crate::redact::clone_url(url);
            }
        }
    }
}

impl ApplyResult {
    /// Replaces the password of both clone URLs with `<redacted>` (Atlantis sends the live
    /// VCS token there) and fills `SanitizedCloneURL` when it is missing.
    pub fn redact(&mut self) {
        for repo in [&mut self.repo, &mut self.pull.base_repo] {
            repo.clone_url = crate::redact::clone_url(&repo.clone_url);
            repo.sanitized_clone_url = crate::redact::clone_url(&repo.sanitized_clone_url);
            if repo.sanitized_clone_url.is_empty() {
                repo.sanitized_clone_url.clone_from(&repo.clone_url);
            }
        }
    }
}
