/** TODO(console helper): the users screen. */
export default function Page() {
  return <h1>users</h1>;
}
