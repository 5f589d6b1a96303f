//! The one data table: a header row from column definitions (sortable ones are buttons,
//! announced with `aria-sort`), the caller's rows, and the phone layout.
//!
//! Rows stay the caller's: each cell carries `data-label`, which the stacked cards on
//! phones (`cards-on-phone` in public/style.css) print before its value.

use leptos::prelude::*;

/// Where a sortable column stands in the current order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortOrder {
    /// The table is sorted by another column.
    Unsorted,
    Ascending,
    Descending,
}

impl SortOrder {
    /// The order of a column: `active` when the table sorts by it.
    pub fn of(active: bool, descending: bool) -> Self {
        match (active, descending) {
            (false, _) => Self::Unsorted,
            (true, false) => Self::Ascending,
            (true, true) => Self::Descending,
        }
    }

    fn aria(self) -> &'static str {
        match self {
            Self::Unsorted => "none",
            Self::Ascending => "ascending",
            Self::Descending => "descending",
        }
    }

    fn arrow(self) -> &'static str {
        match self {
            Self::Unsorted => "",
            Self::Ascending => " ▲",
            Self::Descending => " ▼",
        }
    }
}

/// A column's header: its text, an optional class (`num` right-aligns figures; the
/// cells need the same class) and, when it sorts, its order and what pressing it does.
#[derive(Clone)]
pub struct Column {
    title: &'static str,
    class: Option<&'static str>,
    sort: Option<(Signal<SortOrder>, Callback<()>)>,
}

impl Column {
    pub fn new(title: &'static str) -> Self {
        Self {
            title,
            class: None,
            sort: None,
        }
    }

    /// A class on the header cell.
    pub fn class(mut self, class: &'static str) -> Self {
        self.class = Some(class);
        self
    }

    /// A right-aligned figure column (its cells take `class="num"` too).
    pub fn num(self) -> Self {
        self.class("num")
    }

    /// Makes the header a button (so keyboards reach it) that calls `press`; `order`
    /// sets its `aria-sort` and arrow.
    pub fn sortable(
        mut self,
        order: impl Into<Signal<SortOrder>>,
        press: impl Fn() + Send + Sync + 'static,
    ) -> Self {
        self.sort = Some((order.into(), Callback::new(move |()| press())));
        self
    }
}

/// How a table fits a phone's width.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OnPhone {
    /// Each row becomes a card of labelled cells (`cards-on-phone`).
    #[default]
    Cards,
    /// The table keeps its columns and scrolls sideways inside its frame (for rows
    /// whose cells would wrap letter by letter as cards).
    Scroll,
}

/// A table in its frame: `class` names it for the CSS, `testid` for tests, `columns`
/// make the header, and the children are the `<tbody>` rows.
#[component]
pub fn DataTable(
    columns: Vec<Column>,
    /// The table's own classes (`rules-table`, `detail-table`…).
    #[prop(optional, into)]
    class: String,
    #[prop(optional)] phone: OnPhone,
    #[prop(optional)] testid: Option<&'static str>,
    children: Children,
) -> impl IntoView {
    let class = match phone {
        OnPhone::Cards if class.is_empty() => "cards-on-phone".to_owned(),
        OnPhone::Cards => format!("{class} cards-on-phone"),
        OnPhone::Scroll => class,
    };
    view! {
        <div class="table-wrap">
            <table class=class data-testid=testid>
                <thead>
                    <tr>{columns.into_iter().map(header).collect_view()}</tr>
                </thead>
                <tbody>{children()}</tbody>
            </table>
        </div>
    }
}

fn header(column: Column) -> AnyView {
    let Column { title, class, sort } = column;
    match sort {
        None => view! { <th scope="col" class=class>{title}</th> }.into_any(),
        Some((order, press)) => view! {
            <th scope="col" class=class aria-sort=move || order.get().aria()>
                <button type="button" class="sort" on:click=move |_| press.run(())>
                    {title}
                    <span aria-hidden="true">{move || order.get().arrow()}</span>
                </button>
            </th>
        }
        .into_any(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sort_order_reads_like_aria() {
        assert_eq!(SortOrder::of(false, true).aria(), "none");
        assert_eq!(SortOrder::of(true, false).aria(), "ascending");
        assert_eq!(SortOrder::of(true, true).aria(), "descending");
        assert_eq!(SortOrder::of(true, true).arrow(), " ▼");
        assert_eq!(SortOrder::of(false, false).arrow(), "");
    }
}
