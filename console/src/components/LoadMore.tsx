/** The "Load more" under a paged list (a TanStack infinite query over `page_token`): the next
 * page on demand, with progress while it comes and an alert if it fails. */
import { t } from "@/i18n";

import { Busy, ErrorAlert } from "./Feedback";

type Pages = {
  hasNextPage: boolean;
  isFetchingNextPage: boolean;
  isFetchNextPageError: boolean;
  error: unknown;
  fetchNextPage: () => Promise<unknown>;
};

export function LoadMore({ query }: { query: Pages }) {
  return (
    <>
      {query.isFetchNextPageError && <ErrorAlert error={query.error} />}
      {query.hasNextPage && (
        <div className="actions">
          <button
            type="button"
            className="secondary"
            disabled={query.isFetchingNextPage}
            onClick={() => void query.fetchNextPage()}
          >
            {t("common.more")}
          </button>
          {query.isFetchingNextPage && <Busy />}
        </div>
      )}
    </>
  );
}
