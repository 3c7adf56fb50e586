"""What the command-line tests share."""


def assert_one_line_error(result, *fragments):
    """A user mistake: exit code 2, no traceback, one ``Error:`` line holding ``fragments``."""
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    error_lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(error_lines) == 1, result.output
    for fragment in fragments:
        assert fragment in error_lines[0], result.output
