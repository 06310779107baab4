/** The Borrower field of an application: a combobox that searches as you type (the search
 * service, debounced) and lists matches to pick with the mouse or the arrow keys and Enter. */
import { useEffect, useId, useState, type KeyboardEvent } from "react";

import { Field } from "@/components/Field";
import { useDebounced } from "@/components/useDebounced";
import { t } from "@/i18n";

import { useBorrowerSearch } from "../api";

export type Picked = { id: string; first_name: string; last_name: string; national_id: string; phone: string };

const fullName = (b: Picked) => `${b.first_name} ${b.last_name}`;

export function BorrowerPicker({
  picked,
  onPick,
  error,
}: {
  picked: Picked | null;
  onPick: (borrower: Picked | null) => void;
  error?: string;
}) {
  const list = useId();
  const [text, setText] = useState(picked ? fullName(picked) : "");
  const [open, setOpen] = useState(false);
  const [active, setActive] = useState(0);
  const [focused, setFocused] = useState(false);
  const q = useDebounced(picked ? "" : text.trim(), 300);
  const search = useBorrowerSearch(q);
  const hits = (q && search.data) || [];
  const expanded = open && !picked && q !== "";

  // A borrower chosen elsewhere (the file's "New loan application") shows as typed in.
  const [shown, setShown] = useState(picked?.id);
  if (picked && picked.id !== shown) {
    setShown(picked.id);
    setText(fullName(picked));
  }

  function choose(b: Picked) {
    onPick(b);
    setText(fullName(b));
    setOpen(false);
  }

  // Typed a name (or national ID) and moved on to the next field: when exactly one borrower
  // matches, it is the one meant.
  const only = !picked && !focused && q !== "" && !search.isFetching && hits.length === 1 ? hits[0] : null;
  useEffect(() => {
    if (only) choose(only);
  }, [only]); // eslint-disable-line react-hooks/exhaustive-deps -- choose is this render's

  function keys(event: KeyboardEvent<HTMLInputElement>) {
    // Enter here chooses a borrower; it never submits an application without one.
    if (event.key === "Enter" && !picked) event.preventDefault();
    if (!expanded) return;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      const step = event.key === "ArrowDown" ? 1 : -1;
      setActive((i) => (hits.length ? (i + step + hits.length) % hits.length : 0));
    } else if (event.key === "Enter" && hits[active]) {
      choose(hits[active]);
    } else if (event.key === "Escape") {
      setOpen(false);
    }
  }

  let status = "";
  if (!picked && q && search.isFetching) status = t("loans.searching");
  else if (!picked && q && search.data) status = t("loans.matches", { count: hits.length });

  return (
    <div className="picker">
      <Field
        label={t("loans.field.borrower")}
        role="combobox"
        aria-autocomplete="list"
        aria-expanded={expanded}
        aria-controls={list}
        aria-activedescendant={expanded && hits[active] ? `${list}-${active}` : undefined}
        autoComplete="off"
        spellCheck={false}
        required
        value={text}
        onChange={(e) => {
          setText(e.target.value);
          setOpen(true);
          setActive(0);
          if (picked) onPick(null);
        }}
        onFocus={() => {
          setOpen(true);
          setFocused(true);
        }}
        onBlur={() => {
          setOpen(false);
          setFocused(false);
        }}
        onKeyDown={keys}
        hint={picked ? t("loans.picked", { id: picked.national_id, phone: picked.phone }) : t("loans.borrowerHint")}
        error={error}
      />
      <p role="status" aria-live="polite" className="hint">
        {status}
      </p>
      <ul id={list} role="listbox" aria-label={t("loans.matchingBorrowers")} hidden={!expanded || hits.length === 0}>
        {hits.map((b, i) => (
          <li
            key={b.id}
            id={`${list}-${i}`}
            role="option"
            aria-selected={i === active}
            // Before the input's blur closes the list.
            onMouseDown={(e) => {
              e.preventDefault();
              choose(b);
            }}
          >
            {fullName(b)} <span className="hint">· {b.national_id} · {b.phone}</span>
          </li>
        ))}
      </ul>
    </div>
  );
}
