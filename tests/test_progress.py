"""stgan.progress.Bar: the progress callback the command line hands to library loops."""

from stgan.progress import Bar


def test_bar_draws_counts_and_values_and_closes_at_the_total(capsys):
    bar = Bar("classifier", "batch")
    for done in (1, 2, 3):
        bar(done, 3, loss=1.0 / done)
    err = capsys.readouterr().err
    assert "classifier" in err and "3/3" in err and "loss=0.3333" in err
    assert err.endswith("\n")  # closed: the line is finished
    bar(3, 3, loss=9.0)  # calls after the end draw nothing
    assert capsys.readouterr().err == ""


def test_bar_closed_early_by_with_and_silent_when_disabled(capsys):
    with Bar("train", "it") as bar:
        bar(2, 10)
    err = capsys.readouterr().err
    assert "2/10" in err and err.endswith("\n")
    with Bar("quiet", "it", enabled=False) as bar:
        bar(1, 2)
        bar(2, 2)
    assert capsys.readouterr().err == ""
