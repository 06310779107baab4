/** TODO(console helper): the collections screen. */
export default function Page() {
  return <h1>collections</h1>;
}
