/** TODO(console helper): the scorecards screen. */
export default function Page() {
  return <h1>scorecards</h1>;
}
