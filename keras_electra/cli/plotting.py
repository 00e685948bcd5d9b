"""PNG plots of training curves (matplotlib, without a display)."""

from keras_electra.extras import require


def headless_pyplot():
    """matplotlib's pyplot drawing to files only, so that plots work without a display."""
    require("matplotlib", "plotting").use("Agg")
    return require("matplotlib.pyplot", "plotting")


def plot_history(history, steps, path, panels, xlabel="step"):
    """One panel per `(title, metric names)` of `panels`, each metric against `steps`."""
    plt = headless_pyplot()

    figure, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4), squeeze=False)
    for axis, (title, names) in zip(axes[0], panels):
        for name in names:
            if name in history:
                axis.plot(steps, history[name], label=name)
        axis.set_title(title)
        axis.set_xlabel(xlabel)
        axis.legend()
        axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
