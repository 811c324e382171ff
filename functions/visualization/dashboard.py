"""Self-contained HTML dashboards for the Smart Visualization agent.

A dashboard is the artifact people open: one HTML file holding every chart of an analysis in
a responsive grid, each card showing the chart's title and the one-sentence reason it was
chosen. It must open anywhere, including offline and from a presigned S3 URL, so the page
loads nothing from the network: plotly.js is embedded once in the ``<head>`` (not once per
chart, which would add ~4.8 MB per chart), styles are inline and fonts come from the system.

All text that can come from users (titles, subtitles, notes, chart titles and reasons, which
quote column names) is escaped with :func:`html.escape`, so a column named
``<script>alert(1)</script>`` is displayed, never executed. Figure data is embedded as Plotly
JSON, whose serialiser escapes ``<``, ``>`` and ``/`` (so ``</script>`` cannot appear in it).

Pure logic: no AWS, HTTP or A2A imports and no environment access (DESIGN.md section 3).
"""

import html
from collections.abc import Sequence
from typing import Any

import plotly
import plotly.graph_objects as go
import plotly.io as pio

from analystack.errors import InvalidInputError
from functions.visualization.charts import PLOT_CONFIG, ChartSpec, HtmlPage, figure_dict, plotly_page

__all__ = ["build_dashboard", "build_dashboard_page"]

#: Chart kinds whose figures grow with their content (one row per category/feature/column);
#: their cards get a taller plot area so labels stay legible.
_TALL_KINDS = frozenset({"heatmap", "feature_importance", "missing_values"})


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _card_figure(fig: go.Figure) -> tuple[dict[str, Any], str | None]:
    """A copy (as a dict) sized by its card, without the title (the card shows it) and its
    subtitle note.

    Why a copy: the caller's figure keeps its title and height for other uses (standalone
    HTML, JSON artifacts). The subtitle (sampling/clipping notes) moves under the chart as
    plain text; it was escaped for Plotly, so it is unescaped once and escaped again for HTML.
    """
    note = None
    subtitle = fig.layout.title.subtitle.text if fig.layout.title and fig.layout.title.subtitle else None
    if subtitle:
        note = html.unescape(str(subtitle))
    card = figure_dict(
        fig, title=None, height=None, autosize=True, margin={"t": 16, "b": 48, "l": 56, "r": 16}
    )
    return card, note


def build_dashboard(
    charts: Sequence[tuple[ChartSpec, go.Figure]],
    *,
    title: str,
    subtitle: str | None = None,
    notes: Sequence[str] = (),
) -> str:
    """The dashboard page as text (see :func:`build_dashboard_page`)."""
    return build_dashboard_page(charts, title=title, subtitle=subtitle, notes=notes).text()


def build_dashboard_page(
    charts: Sequence[tuple[ChartSpec, go.Figure]],
    *,
    title: str,
    subtitle: str | None = None,
    notes: Sequence[str] = (),
) -> HtmlPage:
    """Build one self-contained HTML page showing all charts in a responsive grid.

    Each chart sits in a card with its ``spec.title`` and, under it, ``spec.reason``; notes
    (for example key findings or caveats) are listed under the page title. The grid uses one
    column on narrow screens and as many ~520 px columns as fit on wide ones. plotly.js is
    inlined exactly once; charts are drawn by small per-chart scripts that reuse it.

    Args:
        charts: ``(spec, figure)`` pairs in display order, typically from
            :func:`~functions.visualization.charts.recommend_charts` and
            :func:`~functions.visualization.charts.render_chart`. Figures are copied, not
            modified.
        title: Page heading and ``<title>``.
        subtitle: Optional line under the heading (for example the dataset name).
        notes: Optional bullet points under the heading.

    Returns:
        The page (no external resources) as :class:`~functions.visualization.charts.HtmlPage`
        parts around plotly.js; ``.text()`` is the whole document.

    Raises:
        InvalidInputError: An item is not a ``(ChartSpec, figure)`` pair, or ``title`` is blank.
    """
    if not isinstance(title, str) or not title.strip():
        raise InvalidInputError("A dashboard needs a non-empty title.")
    cards: list[str] = []
    for index, item in enumerate(charts, start=1):
        if not (isinstance(item, tuple | list) and len(item) == 2 and isinstance(item[0], ChartSpec)):
            raise InvalidInputError(f"Dashboard item {index} must be a (ChartSpec, figure) pair.")
        spec, fig = item[0], item[1]
        card_fig, note = _card_figure(fig)
        config: dict[str, Any] = {**PLOT_CONFIG, "toImageButtonOptions": {"filename": spec.chart_id}}
        div = pio.to_html(
            card_fig,
            include_plotlyjs=False,
            full_html=False,
            div_id=f"chart-{index}-{spec.chart_id}",
            config=config,
            default_width="100%",
            default_height="100%",
            validate=False,
        )
        tall = " tall" if spec.kind in _TALL_KINDS else ""
        heading_id = f"card-{index}-title"
        note_html = f'\n<p class="note">{_esc(note)}</p>' if note else ""
        cards.append(
            f'<section class="card{tall}" data-kind="{spec.kind}" aria-labelledby="{heading_id}">\n'
            f'<h2 id="{heading_id}">{_esc(spec.title)}</h2>\n'
            f'<p class="reason">{_esc(spec.reason)}</p>\n'
            f'<div class="plot">{div}</div>{note_html}\n'
            "</section>"
        )
    header = [f"<h1>{_esc(title)}</h1>"]
    if subtitle:
        header.append(f'<p class="subtitle">{_esc(subtitle)}</p>')
    listed = [f"<li>{_esc(str(note))}</li>" for note in notes if str(note).strip()]
    if listed:
        header.append('<ul class="notes">\n' + "\n".join(listed) + "\n</ul>")
    grid = (
        '<main class="grid">\n' + "\n".join(cards) + "\n</main>"
        if cards
        else '<p class="empty">No charts to show for this data.</p>'
    )
    count = f"{len(cards)} chart{'s' if len(cards) != 1 else ''}"
    body = (
        '<header class="page">\n' + "\n".join(header) + "\n</header>\n" + grid + "\n"
        f'<footer class="page">{count} · interactive charts by Plotly {_esc(plotly.__version__)}, '
        "embedded for offline use.</footer>"
    )
    return plotly_page(title, body)
