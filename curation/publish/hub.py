"""Sending a publish plan to the Hub with huggingface_hub: each repository created if missing
(`create_repo(exist_ok=True)`), then one commit of its files; data files the plan no longer holds (a split that
is gone) are deleted in that same commit. A re-publish is a new commit on the same repository; files that did not
change are not sent again, and a plan identical to what the Hub holds makes no empty commit.

The token comes from HF_TOKEN or the user's login (`hf auth login`), and goes only into the requests'
Authorization header: it is never printed, logged or written, and error messages are scrubbed of it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from curation.errors import CurationError
from curation.publish.layout import RepoPlan
from curation.writers import DATA_FOLDER


@dataclass(frozen=True)
class Published:
    repo_id: str
    url: str
    commit: str | None  # None: the Hub held these files already, so no commit was made


def hub_token() -> str:
    """HF_TOKEN, else the token of `hf auth login`; a CurationError when there is neither."""
    from huggingface_hub import constants, get_token

    if constants.is_offline_mode():
        raise CurationError("HF_HUB_OFFLINE is set: publishing needs the Hub; unset it for this command")
    token = get_token()
    if not token:
        raise CurationError("no Hugging Face token: set HF_TOKEN or run `hf auth login` (a token with write access to "
                            "the organisation)")
    return token


def send(plans: list[RepoPlan], token: str, private: bool = False, endpoint: str | None = None,
         done: Callable[[Published], None] = lambda published: None) -> list[Published]:
    """Each plan as a commit on its dataset repository; `done` is called after each one."""
    from huggingface_hub import HfApi
    from huggingface_hub.utils import disable_progress_bars

    disable_progress_bars()  # the command shows its own progress
    api = HfApi(endpoint=endpoint, token=token)
    results = []
    for plan in plans:
        try:
            published = _send_one(api, plan, private)
        except CurationError:
            raise
        except Exception as error:  # noqa: BLE001 (the Hub's HTTP errors and the network's, as one line)
            raise CurationError(f"publishing {plan.repo_id} failed: {_reasons(error, token)}") from None
        results.append(published)
        done(published)
    return results


def _reasons(error: BaseException, token: str) -> str:
    """The error and the errors that caused it, as one line without the token."""
    chain = []
    while error is not None:
        chain.append(f"{type(error).__name__}: {error}".replace(token, "***"))
        error = error.__cause__ or error.__context__
    return " <- ".join(chain)


def _send_one(api, plan: RepoPlan, private: bool) -> Published:
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete

    url = api.create_repo(plan.repo_id, repo_type="dataset", private=private, exist_ok=True)
    planned = {file.path_in_repo for file in plan.files}
    stale = [path for path in api.list_repo_files(plan.repo_id, repo_type="dataset")
             if path.startswith(f"{DATA_FOLDER}/") and path not in planned]
    operations = [*(CommitOperationDelete(path) for path in stale),
                  *(CommitOperationAdd(file.path_in_repo, file.content) for file in plan.files)]
    head = api.repo_info(plan.repo_id, repo_type="dataset").sha
    rows = ", ".join(f"{split}: {count:,}" for split, count in plan.splits.items())
    commit = api.create_commit(plan.repo_id, operations, repo_type="dataset", parent_commit=head,
                               commit_message=f"curation publish: {plan.dataset} ({rows})",
                               commit_description="Data, card, config and notebooks from `curation publish`.")
    return Published(plan.repo_id, str(url), None if commit.oid == head else commit.oid)
