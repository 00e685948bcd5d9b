"""Every sub-command's flags, one module per command (or pair of commands sharing flags).

These modules import nothing heavier than `cli/arguments.py` and `choices.py`: parsing the command line
(--help, a bad argument) imports no Keras and so no backend framework. Each parser's `run` names the
module in `cli/` that runs the command, imported once the arguments are good (`arguments.Command`).
"""
