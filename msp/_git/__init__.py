"""msp and git: a commit message from the active session, and the ``post-commit`` hook that
records each commit as an update of it.

git runs as a child process with an argument list (never a shell string), always as
``git -C <folder>``; text from a user or a session reaches git only on standard input
(``git commit -F -``), never as an argument it could read as an option.
"""
