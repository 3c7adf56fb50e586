"""What the command modules share: how a user mistake becomes one line and exit code 2."""
import contextlib

import click


class InputError(click.ClickException):
    """A user mistake: Click prints ``Error: <message>`` on stderr and exits with 2."""

    exit_code = 2


class RunFailed(click.ClickException):
    """A run that could not finish (it diverged): one line, exit code 1, its files kept."""

    exit_code = 1


# the bare command's "error" from Click 8.2 on (before, Click printed the help itself)
_NO_ARGS = getattr(click.exceptions, "NoArgsIsHelpError", ())


@contextlib.contextmanager
def _one_line_usage():
    """Click's usage errors as ``InputError``: one line, naming the command's help."""
    try:
        yield
    except _NO_ARGS as e:  # the bare command: its help, no error
        click.echo(e.ctx.get_help())
        raise click.exceptions.Exit(0) from None
    except click.UsageError as e:
        context = e.ctx or click.get_current_context(silent=True)
        hint = f" (see '{context.command_path} --help')" if context is not None else ""
        message = " ".join(e.format_message().split())  # (Click's choices come on new lines)
        raise InputError(message + hint) from None


class Commands(click.Group):
    """The command group: a usage mistake that Click finds (a bad option value, an unknown
    option or command, a missing argument), in any of its commands, is one line like
    every other user mistake, instead of Click's usage block; the group alone prints its
    help and exits 0."""

    def make_context(self, info_name, args, parent=None, **extra):
        with _one_line_usage():
            return super().make_context(info_name, args, parent=parent, **extra)

    def invoke(self, ctx):
        with _one_line_usage():
            return super().invoke(ctx)


def start_run_dir(out_dir, **options):
    """Hold the run directory ``out_dir`` (``hold_run_dir``) and make it ready
    (``prepare_run_dir``'s ``options``).  A run that ``--force`` replaces is set aside
    until the command ends, and put back if the new run stored no result
    (``EarlierRun``)."""
    from numbarnn.runs.run_dir import prepare_run_dir

    hold_run_dir(out_dir)
    earlier = prepare_run_dir(out_dir, keep_earlier=True, **options)
    if earlier is not None:  # (before the lock is released: the callbacks run last first)
        context = click.get_current_context()
        context.meta["numbarnn.earlier_run"] = earlier
        context.call_on_close(earlier.settle)


def settle_run_dir(keep_new=None):
    """Settle now what ``--force`` set aside (``EarlierRun.settle``, ``keep_new`` to decide
    instead of its rule), so that the command can say which run its directory holds:
    True where the earlier run was put back."""
    earlier = click.get_current_context().meta.get("numbarnn.earlier_run")
    return earlier is not None and earlier.settle(keep_new)


def hold_run_dir(out_dir):
    """Lock the run directory ``out_dir`` until the command ends: a second command on it
    gets one line naming the process that holds it (``numbarnn.runs.run_dir.run_lock``)."""
    from numbarnn.runs.run_dir import run_lock

    click.get_current_context().with_resource(run_lock(out_dir))


@contextlib.contextmanager
def user_errors():
    """Turn the library's ``ValueError`` (bad input, bad checkpoint), file errors and a
    missing optional package (``ImportError``, its message says what to install) into
    ``InputError``: one line, exit code 2, no traceback."""
    try:
        yield
    except (ValueError, ImportError) as e:
        raise InputError(str(e)) from None
    except OSError as e:
        where = f"{e.filename}: " if e.filename else ""
        raise InputError(f"{where}{e.strerror or e}") from None
