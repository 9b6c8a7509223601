"""The GraphQL operations this integration sends. Constant text: every value goes in variables."""

from __future__ import annotations

COMMENT_CREATE = """\
mutation MspCommentCreate($input: CommentCreateInput!) {
  commentCreate(input: $input) {
    success
    comment {
      id
      url
    }
  }
}
"""

ISSUE_CREATE = """\
mutation MspIssueCreate($input: IssueCreateInput!) {
  issueCreate(input: $input) {
    success
    issue {
      id
      identifier
      url
    }
  }
}
"""

#: operation name -> document, for tests and documentation.
DOCUMENTS: dict[str, str] = {
    "MspCommentCreate": COMMENT_CREATE,
    "MspIssueCreate": ISSUE_CREATE,
}
